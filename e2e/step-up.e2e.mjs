// The window test of step-up (RFC 9470): the real Latchkey app in a WebKitGTK window (tauri-driver
// + WebKitWebDriver, under Xvfb) against the real dev IdP, whose /api/step-up demands
// urn:latchkey:mfa. Sign in → Call API → the "Confirm it's you" panel names the level the API
// asked for → Confirm → one more trip through the browser (the headless login driver, which gives
// the IdP's second factor) → the retried call's answer at urn:latchkey:mfa. A screenshot of each.
//
// Run by scripts/e2e.sh after app.e2e.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { remote } from 'webdriverio';

import { app, children, cleanup, root, shots } from './harness.mjs';

const PIN = 'step-up-test-1357';
let failed = 0;
let passed = 0;

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

const idp = spawn('node', [join(root, 'dev-idp/server.mjs')], {
  env: { ...process.env, DEV_IDP_QUIET: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
children.push(idp);
const { issuer } = JSON.parse(await new Promise((ok) => createInterface({ input: idp.stdout }).once('line', ok)));

const data = mkdtempSync(join(tmpdir(), 'latchkey-e2e-step-up-'));
const driverLog = join(data, 'browser-opened.log');
const env = {
  ...process.env,
  LATCHKEY_ISSUER: issuer,
  LATCHKEY_CLIENT_ID: 'latchkey-native',
  LATCHKEY_PARAMS: 'prompt=consent',
  LATCHKEY_API_URL: `${issuer}/api/step-up`,
  LATCHKEY_DATA_DIR: data,
  LATCHKEY_DRIVER_LOG: driverLog,
  BROWSER: `node ${join(root, 'dev-idp/login-driver.mjs')} %s`,
};
const driver = spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', [], { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
children.push(driver);
for (let i = 0; i < 100; i += 1) {
  try {
    if ((await fetch('http://127.0.0.1:4444/status')).ok) break;
  } catch {
    // not up yet
  }
  await new Promise((ok) => setTimeout(ok, 100));
}
const opened = () => (existsSync(driverLog) ? readFileSync(driverLog, 'utf8').trim().split('\n').length : 0);

let browser;
try {
  browser = await remote({
    hostname: '127.0.0.1',
    port: 4444,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });
  const shot = (name) => browser.saveScreenshot(join(shots, `${name}.png`));

  await step('sign in', async () => {
    await browser.$('#sign-in').waitForDisplayed({ timeout: 20000 });
    await browser.$('#sign-in').click();
    await browser.$('#pin-new').setValue(PIN);
    await browser.$('#pin-confirm').setValue(PIN);
    await browser.$('#pin-submit').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 30000 });
  });

  await step('Call API on a route that wants more: "Confirm it\'s you" names the level asked', async () => {
    await browser.$('#call-api').click();
    await browser.$('#step-up').waitForDisplayed({ timeout: 10000 });
    const text = await browser.$('#step-up-text').getText();
    if (!text.includes('urn:latchkey:mfa')) throw new Error(`the panel says: ${text}`);
    if (!(await browser.$('#screen-signed-in').isDisplayed())) throw new Error('no longer signed in');
    await shot('30-step-up-confirm');
  });

  await step('Confirm: one more trip through the browser, and the retried call answers at mfa', async () => {
    const before = opened();
    await browser.$('#step-up-confirm').click();
    await browser.waitUntil(async () => (await browser.$('#api-result').getText()).includes('"acr": "urn:latchkey:mfa"'), {
      timeout: 30000,
      timeoutMsg: 'no answer at urn:latchkey:mfa',
    });
    if (opened() !== before + 1) throw new Error(`the browser was opened ${opened() - before} times for the step-up`);
    if (await browser.$('#step-up').isDisplayed()) throw new Error('the panel is still shown');
    const stats = await (await fetch(new URL('/dev/stats', issuer))).json();
    if (stats.step_up_demands !== 1) throw new Error(`the API demanded a step-up ${stats.step_up_demands} times`);
    await shot('31-step-up-done');
  });
} catch (e) {
  if (failed === 0) {
    failed = 1; // before any step: the app or the driver didn't start
    console.log(`not ok - setup: ${e.message}`);
  }
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
  cleanup();
}
const ok = failed === 0 && passed === 3;
console.log(ok ? 'step-up window test passed' : `${failed} step(s) failed, ${passed} passed`);
process.exit(ok ? 0 : 1);
