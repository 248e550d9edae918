// The quickstart's window test: examples/quickstart (create-tauri-app's scaffold plus the lines
// README's "Add Latchkey to your Tauri app" shows) in a real WebKitGTK window (tauri-driver +
// WebKitWebDriver, under Xvfb), against the real dev IdP. The plugin's browser-launch path
// (BROWSER) runs the headless login driver.
//
// Sign in choosing a PIN → through the browser → the name from the authorised fetch of userinfo →
// quit → relaunch → "Unlock" → the PIN → the name again, with no browser step: the login driver
// was started once, and the dev IdP's counters (/dev/stats) show one authorization-code grant in
// all and the unlock's one refresh. A screenshot after the sign-in and after the unlock.
//
// Run by scripts/e2e.sh (which builds the quickstart, starts Xvfb and finds tauri-driver).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { remote } from 'webdriverio';

import { cleanup, root, shots, startDriver, startIdp, steps } from './harness.mjs';

const quickstart = resolve(root, process.env.QUICKSTART_APP ?? 'target/debug/quickstart');
const PIN = 'quickstart-2468';
const EXPECTED = 5;

const { step, count } = steps();

const launch = () =>
  remote({
    hostname: '127.0.0.1',
    port: 4444,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: quickstart } },
  });

if (!existsSync(quickstart)) {
  console.log(`not ok - the quickstart binary ${quickstart} is missing (cargo build -p quickstart)`);
  process.exit(1);
}

const idp = await startIdp();
const stats = async () => (await fetch(`${idp.issuer}/dev/stats`)).json();
const data = mkdtempSync(join(tmpdir(), 'latchkey-quickstart-e2e-'));
const driverLog = join(data, 'browser-opened.log');
const opened = () => (existsSync(driverLog) ? readFileSync(driverLog, 'utf8').trim().split('\n').length : 0);
await startDriver({
  ...process.env,
  LATCHKEY_ISSUER: idp.issuer, // read by the quickstart's lib.rs
  XDG_DATA_HOME: data, // the app data directory: $XDG_DATA_HOME/dev.latchkey.quickstart
  LATCHKEY_DRIVER_LOG: driverLog,
  BROWSER: `node ${join(root, 'dev-idp/login-driver.mjs')} %s`,
});

let win;
const who = async () => (await win.$('#who').getText()).trim();
try {
  win = await launch();

  await step('launch shows the scaffold with Sign in', async () => {
    await win.$('#greet-form').waitForDisplayed({ timeout: 20000 });
    await win.waitUntil(async () => (await win.$('#sign-in').getText()) === 'Sign in', {
      timeout: 10000,
      timeoutMsg: 'the button never said Sign in',
    });
  });

  await step('Sign in with a new PIN goes through the browser and shows the name from the fetch', async () => {
    await win.$('#pin').setValue(PIN);
    await win.$('#sign-in').click();
    await win.waitUntil(async () => (await who()) === 'Alice Example', {
      timeout: 30000,
      timeoutMsg: 'no name shown after the sign-in',
    });
    if (opened() !== 1) throw new Error(`the browser was opened ${opened()} times`);
    const s = await stats();
    if (s.grants.authorization_code !== 1) throw new Error(`authorization-code grants: ${JSON.stringify(s.grants)}`);
    await win.saveScreenshot(join(shots, '30-quickstart-signed-in.png'));
  });

  await win.deleteSession(); // quit the app
  win = await launch(); // relaunch

  let before;
  await step('relaunch: the vault is there, the button says Unlock, no name yet', async () => {
    await win.waitUntil(async () => (await win.$('#sign-in').getText()) === 'Unlock', {
      timeout: 20000,
      timeoutMsg: 'the relaunched app does not offer Unlock',
    });
    if ((await who()) !== '') throw new Error(`a name is shown before the unlock: ${await who()}`);
    before = await stats();
  });

  await step('Unlock with the PIN shows the name again', async () => {
    await win.$('#pin').setValue(PIN);
    await win.$('#sign-in').click();
    await win.waitUntil(async () => (await who()) === 'Alice Example', {
      timeout: 30000,
      timeoutMsg: 'no name shown after the unlock',
    });
    await win.saveScreenshot(join(shots, '31-quickstart-unlocked.png'));
  });

  await step('the relaunch made no new authorization: no browser, one refresh', async () => {
    const after = await stats();
    if (opened() !== 1) throw new Error(`the browser was opened again (${opened()} times in all)`);
    if (after.grants.authorization_code !== 1) {
      throw new Error(`a new authorization after the relaunch: ${JSON.stringify(after.grants)}`);
    }
    const refreshes = (after.grants.refresh_token ?? 0) - (before.grants.refresh_token ?? 0);
    if (refreshes !== 1) throw new Error(`the unlock made ${refreshes} refreshes (want 1): ${JSON.stringify(after.grants)}`);
  });
} catch {
  // reported by step()
} finally {
  if (win) await win.deleteSession().catch(() => {});
  cleanup();
  rmSync(data, { recursive: true, force: true });
}
console.log(`quickstart e2e: ${count.passed} passed, ${count.failed} failed`);
process.exit(count.failed === 0 && count.passed === EXPECTED ? 0 : 1);
