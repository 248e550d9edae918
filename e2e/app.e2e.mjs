// The window test: the real Latchkey app in a real WebKitGTK window (tauri-driver +
// WebKitWebDriver, under Xvfb), against the real dev IdP with a short access-token lifetime.
// The app's own browser-launch path (BROWSER) runs the headless login driver.
//
// First, unconfigured (a fresh data directory, no LATCHKEY_* settings in the environment): the
// first-run screen → Dev IdP → its issuer → saved → signed out with Sign in. Then, configured
// through the environment:
// launch → Sign in (choose a PIN) → signed in as alice → a background refresh on the timeline →
// Call API shows the userinfo → Lock → quit → relaunch → "Welcome back" → unlock with the PIN →
// signed in with no browser step → Sign out → vault gone. A screenshot at each state. What the
// server saw (code exchanges, refreshes, revoked refresh tokens) is read from the dev IdP's own
// counters (GET /dev/stats), not taken from the app's timeline or notes.
//
// Run by scripts/e2e.sh (which builds the app, starts Xvfb and finds tauri-driver).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { remote } from 'webdriverio';

import { app, children, cleanup, idpStats, root, shots } from './harness.mjs';

const PIN = 'window-test-2468';

let passed = 0;
let failed = 0;


async function startIdp() {
  const idp = spawn('node', [join(root, 'dev-idp/server.mjs')], {
    env: { ...process.env, DEV_IDP_ACCESS_TOKEN_TTL: '6', DEV_IDP_CLOCK_TOLERANCE: '0', DEV_IDP_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  children.push(idp);
  const line = await new Promise((ok) => createInterface({ input: idp.stdout }).once('line', ok));
  return JSON.parse(line);
}

async function startDriver(env) {
  const driver = spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', [], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.push(driver);
  for (let i = 0; i < 100; i += 1) {
    try {
      const r = await fetch('http://127.0.0.1:4444/status');
      if (r.ok) return driver;
    } catch {
      // not up yet
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('tauri-driver did not start');
}

async function stopDriver(driver) {
  try {
    process.kill(-driver.pid, 'SIGKILL');
  } catch {
    driver.kill('SIGKILL');
  }
  children.splice(children.indexOf(driver), 1);
  for (let i = 0; i < 100; i += 1) {
    try {
      await fetch('http://127.0.0.1:4444/status');
    } catch {
      return; // the port is free for the next driver
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('tauri-driver did not stop');
}

function launch() {
  return remote({
    hostname: '127.0.0.1',
    port: 4444,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });
}

async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}: ${e.message}`);
    throw e;
  }
}

const idp = await startIdp();

// Unconfigured: a fresh data directory and no settings in the environment.
const fresh = mkdtempSync(join(tmpdir(), 'latchkey-e2e-first-run-'));
const bareEnv = { ...process.env, LATCHKEY_DATA_DIR: fresh };
for (const key of Object.keys(bareEnv)) {
  if (key.startsWith('LATCHKEY_') && key !== 'LATCHKEY_DATA_DIR') delete bareEnv[key];
}
const firstDriver = await startDriver(bareEnv);
let firstRun;
try {
  firstRun = await launch();
  await step('unconfigured launch shows the first-run screen', async () => {
    await firstRun.$('#screen-unconfigured').waitForDisplayed({ timeout: 20000 });
    await firstRun.$('#provider-dev').waitForDisplayed({ timeout: 5000 });
    for (const id of ['keycloak', 'okta', 'auth0', 'entra', 'other']) {
      if (!(await firstRun.$(`#provider-${id}`).isDisplayed())) throw new Error(`no ${id} preset`);
    }
    if (await firstRun.$('#settings').isDisplayed()) throw new Error('the settings panel shows on the first-run screen');
    await firstRun.saveScreenshot(join(shots, '00-first-run.png'));
  });

  await step('first run: Dev IdP, checked field by field, saved: signed out with Sign in', async () => {
    await firstRun.$('#provider-dev').click();
    const client = await firstRun.$('#fr-client_id').getValue();
    if (client !== 'latchkey-native') throw new Error(`client ID ${client}`);
    // Nothing typed: the issuer field says so, and nothing is saved.
    await firstRun.$('#first-run-save').click();
    await firstRun.waitUntil(async () => (await firstRun.$('#fr-issuer-error').getText()) === 'Enter the issuer URL.', {
      timeout: 5000,
      timeoutMsg: 'no message next to the empty issuer',
    });
    await firstRun.$('#fr-issuer').setValue('http://idp.example.com');
    await firstRun.$('#first-run-save').click();
    await firstRun.waitUntil(async () => (await firstRun.$('#fr-issuer-error').getText()).startsWith('Use https://.'), {
      timeout: 5000,
      timeoutMsg: 'no message next to an http issuer',
    });
    if (existsSync(join(fresh, 'settings.toml'))) throw new Error('invalid settings were saved');
    await firstRun.$('#fr-issuer').setValue(idp.issuer);
    await firstRun.$('#first-run-save').click();
    await firstRun.$('#screen-signed-out').waitForDisplayed({ timeout: 20000 });
    const title = await firstRun.$('#signed-out-title').getText();
    if (title !== 'You are signed out') throw new Error(title);
    const signIn = firstRun.$('#sign-in');
    if (!(await signIn.isDisplayed()) || !(await signIn.isEnabled())) throw new Error('Sign in is not available');
    const saved = readFileSync(join(fresh, 'settings.toml'), 'utf8');
    for (const want of [idp.issuer, 'latchkey-native', 'consent']) {
      if (!saved.includes(want)) throw new Error(`settings.toml lacks ${want}: ${saved}`);
    }
  });
} catch {
  // reported by step()
} finally {
  if (firstRun) await firstRun.deleteSession().catch(() => {}); // quit the app
  await stopDriver(firstDriver);
  rmSync(fresh, { recursive: true, force: true });
}

const data = mkdtempSync(join(tmpdir(), 'latchkey-e2e-'));
const driverLog = join(data, 'browser-opened.log');
const env = {
  ...process.env,
  LATCHKEY_ISSUER: idp.issuer,
  LATCHKEY_CLIENT_ID: 'latchkey-native',
  LATCHKEY_PARAMS: 'prompt=consent',
  LATCHKEY_API_URL: `${idp.issuer}/me`,
  LATCHKEY_DATA_DIR: data,
  LATCHKEY_DRIVER_LOG: driverLog,
  BROWSER: `node ${join(root, 'dev-idp/login-driver.mjs')} %s`,
};
await startDriver(env);
const opened = () => (existsSync(driverLog) ? readFileSync(driverLog, 'utf8').trim().split('\n').length : 0);

let browser;
try {
  browser = await launch();
  const shot = (name) => browser.saveScreenshot(join(shots, `${name}.png`));

  await step('launch shows Sign in', async () => {
    await browser.$('#sign-in').waitForDisplayed({ timeout: 20000 });
    await shot('01-signed-out');
  });

  await step('first sign-in asks for a PIN, then goes through the browser', async () => {
    await browser.$('#sign-in').click();
    await browser.$('#pin-new').setValue(PIN);
    await browser.$('#pin-confirm').setValue(PIN);
    await shot('02-choose-pin');
    await browser.$('#pin-submit').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 30000 });
    await browser.waitUntil(async () => (await browser.$('#who').getText()) === 'Alice Example', { timeout: 10000 });
    if (opened() !== 1) throw new Error(`the browser was opened ${opened()} times`);
    const seen = await idpStats(idp.issuer);
    if (seen.signIns !== 1) throw new Error(`the IdP granted ${seen.signIns} code exchanges, not 1`);
  });

  await step('the timeline shows a background refresh and rotation, and the IdP granted it', async () => {
    await browser.waitUntil(
      async () => (await browser.$('#timeline-events').getText()).includes('refreshed (scheduled) · refresh token rotated'),
      { timeout: 20000, timeoutMsg: 'no scheduled refresh on the timeline' },
    );
    // The server's count, read after the app showed its refresh: at least the refreshes the
    // timeline shows (a later one may be in flight), and at least one.
    const shown = (await browser.$('#timeline-events').getText()).split('\n').filter((l) => / refreshed \(scheduled\)/.test(l)).length;
    const { refreshes } = await idpStats(idp.issuer);
    if (refreshes < Math.max(1, shown)) throw new Error(`the timeline shows ${shown} refreshes, the IdP granted ${refreshes}`);
    // The dev IdP offers DPoP: the tokens are bound to the session's key, and the UI says so.
    const timeline = await browser.$('#timeline-events').getText();
    if (!timeline.includes('refresh token rotated · key-bound (DPoP)')) {
      throw new Error(`the timeline does not say the tokens are key-bound: ${timeline}`);
    }
    if (!(await browser.$('#token-meta').getText()).includes('key-bound (DPoP)')) {
      throw new Error('the token meta does not say key-bound');
    }
    await shot('03-signed-in-timeline');
  });

  await step('Call API shows the userinfo', async () => {
    await browser.$('#call-api').click();
    await browser.waitUntil(async () => (await browser.$('#api-result').getText()).includes('"name": "Alice Example"'), {
      timeout: 10000,
    });
    await shot('04-call-api');
  });

  await step('Lock shows Welcome back', async () => {
    await browser.$('#lock').click();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
    await shot('05-locked');
  });

  await browser.deleteSession(); // quit the app
  browser = await launch(); // relaunch

  await step('relaunch: locked, and it knows who', async () => {
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 20000 });
    const welcome = await browser.$('#welcome').getText();
    if (welcome !== 'Welcome back, Alice Example') throw new Error(welcome);
    await shot('06-welcome-back');
  });

  await step('a wrong PIN is a readable error', async () => {
    await browser.$('#pin-unlock').setValue('not-the-pin');
    await browser.$('#unlock').click();
    await browser.waitUntil(async () => (await browser.$('#error').getText()).includes('attempt(s) left'), { timeout: 10000 });
    await shot('07-wrong-pin');
  });

  await step('unlock with the PIN: signed in with no browser step', async () => {
    const before = await idpStats(idp.issuer);
    await browser.$('#pin-unlock').setValue(PIN);
    await browser.$('#unlock').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
    await browser.waitUntil(async () => (await browser.$('#who').getText()) === 'Alice Example');
    if (opened() !== 1) throw new Error(`the browser was opened again (${opened()} times in all)`);
    // The relaunched app holds no access token: the unlock refreshes, and the IdP grants it.
    await browser.waitUntil(async () => (await idpStats(idp.issuer)).refreshes > before.refreshes, {
      timeout: 10000,
      timeoutMsg: 'the IdP granted no refresh for the unlock',
    });
    if ((await idpStats(idp.issuer)).signIns !== before.signIns) throw new Error('the IdP saw another sign-in (a code exchange)');
    await shot('08-unlocked');
  });

  await step('Sign out: revoked, and the vault is gone', async () => {
    const before = await idpStats(idp.issuer);
    await browser.$('#sign-out').click();
    await browser.$('#screen-signed-out').waitForDisplayed({ timeout: 20000 });
    const note = await browser.$('#sign-out-note').getText();
    if (!note.includes('revoked at the server')) throw new Error(`sign-out note: ${note}`);
    // The IdP destroyed a live refresh token: revoked there, not only said to be.
    const revoked = (await idpStats(idp.issuer)).revokedRefreshTokens - before.revokedRefreshTokens;
    if (revoked !== 1) throw new Error(`the IdP revoked ${revoked} refresh tokens, not 1`);
    await shot('09-signed-out-again');
    for (const f of ['vault.stronghold', 'vault.key.json', 'vault.meta.json']) {
      if (existsSync(join(data, 'vault', f))) throw new Error(`${f} still exists`);
    }
  });

  await step('locked with a forgotten PIN: "Sign out on this device" erases the vault, not revoked', async () => {
    await browser.$('#sign-in').click();
    await browser.$('#pin-new').setValue(PIN);
    await browser.$('#pin-confirm').setValue(PIN);
    await browser.$('#pin-submit').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 30000 });
    await browser.$('#lock').click();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
    const before = await idpStats(idp.issuer);
    await browser.$('#forget').click();
    await browser.$('#screen-signed-out').waitForDisplayed({ timeout: 20000 });
    const note = await browser.$('#sign-out-note').getText();
    if (!note.includes('not revoked at the server')) throw new Error(`sign-out note: ${note}`);
    const after = await idpStats(idp.issuer);
    if (after.revocationRequests !== before.revocationRequests) throw new Error('a revocation request reached the IdP');
    await shot('10-forgot-pin-signed-out');
    for (const f of ['vault.stronghold', 'vault.key.json', 'vault.meta.json']) {
      if (existsSync(join(data, 'vault', f))) throw new Error(`${f} still exists`);
    }
  });
} catch {
  // reported by step()
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
  cleanup();
  rmSync(data, { recursive: true, force: true });
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === 12 ? 0 : 1);
