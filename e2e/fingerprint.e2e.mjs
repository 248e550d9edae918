// The window test of the next-day journey with a fingerprint (Linux): the real app in a real
// WebKitGTK window, the real dev IdP, and real daemons — fprintd with libfprint's virtual reader
// on a private system bus (polkit mocked by python-dbusmock) and gnome-keyring's Secret Service on
// a private session bus — started by latchkey-testkit's `fprint-rig`, which places fingers on the
// reader when told. The app is the `test-rig` build: only it reads the private buses' addresses
// (LATCHKEY_TEST_SYSTEM_BUS / LATCHKEY_TEST_SESSION_BUS); a release build pins the system bus.
//
// Sign in choosing fingerprint unlock with a PIN as fallback (the PIN and a matching finger turn
// it on) → quit → relaunch → "Welcome back" → the PIN first (by default the key was held only in
// the memory of the app that quit), one refresh → lock → a finger that isn't enrolled: refused,
// still locked → the enrolled finger: signed in, no browser → lock, "Use PIN instead" ends the
// prompt, the PIN unlocks → the enrolment is removed: the
// finger says biometrics changed, the PIN unlocks and wraps the key again → the new enrolment
// unlocks. Run by scripts/e2e.sh.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { remote } from 'webdriverio';

import { app, children, cleanup, root, shots } from './harness.mjs';

const rigBin = resolve(root, process.env.LATCHKEY_FPRINT_RIG ?? 'target/debug/fprint-rig');
const PIN = 'finger-test-1357';
const STEPS = 8;

let passed = 0;
let failed = 0;


function start(cmd, args, env) {
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  children.push(child);
  return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
}

async function nextLine(proc) {
  const { value, done } = await proc.lines.next();
  if (done) throw new Error('the process ended');
  return value;
}

const idpProc = start('node', [join(root, 'dev-idp/server.mjs')], {
  ...process.env,
  DEV_IDP_ACCESS_TOKEN_TTL: '6',
  DEV_IDP_CLOCK_TOLERANCE: '0',
  DEV_IDP_QUIET: '1',
});
const idp = JSON.parse(await nextLine(idpProc));
const rig = start(rigBin, [], process.env);
const buses = JSON.parse(await nextLine(rig));

/** Tells the rig to do something (`scan good`, `scan bad`, `remove`, `enrol`); resolves when done. */
async function tell(command) {
  rig.child.stdin.write(`${command}\n`);
  const answer = await nextLine(rig);
  if (answer !== 'ok') throw new Error(`rig: ${answer}`);
}

const data = mkdtempSync(join(tmpdir(), 'latchkey-e2e-finger-'));
const driverLog = join(data, 'browser-opened.log');
const env = {
  ...process.env,
  LATCHKEY_ISSUER: idp.issuer,
  LATCHKEY_CLIENT_ID: 'latchkey-native',
  LATCHKEY_PARAMS: 'prompt=consent',
  LATCHKEY_DATA_DIR: data,
  LATCHKEY_DRIVER_LOG: driverLog,
  LATCHKEY_TEST_SYSTEM_BUS: buses.system_bus,
  LATCHKEY_TEST_SESSION_BUS: buses.session_bus,
  BROWSER: `node ${join(root, 'dev-idp/login-driver.mjs')} %s`,
};
const driver = spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', [], { env, stdio: 'inherit', detached: true });
children.push(driver);
for (let i = 0; ; i += 1) {
  try {
    if ((await fetch('http://127.0.0.1:4444/status')).ok) break;
  } catch {
    // not up yet
  }
  if (i > 100) throw new Error('tauri-driver did not start');
  await new Promise((ok) => setTimeout(ok, 100));
}
const opened = () => (existsSync(driverLog) ? readFileSync(driverLog, 'utf8').trim().split('\n').length : 0);
/** Successful refresh grants the dev IdP has counted. */
const refreshGrants = async () =>
  (await (await fetch(new URL('/dev/stats', idp.issuer))).json()).grants.refresh_token ?? 0;
const keyFile = () => JSON.parse(readFileSync(join(data, 'vault', 'vault.key.json'), 'utf8'));
const launch = () =>
  remote({
    hostname: '127.0.0.1',
    port: 4444,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });

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

let browser;
try {
  browser = await launch();
  const shot = (name) => browser.saveScreenshot(join(shots, `${name}.png`));
  const bioStatus = async (text) =>
    browser.waitUntil(async () => (await browser.$('#bio-status').getText()).includes(text), {
      timeout: 20000,
      timeoutMsg: `the unlock screen never said "${text}"`,
    });

  await step('sign in choosing fingerprint unlock, with a PIN as fallback', async () => {
    await browser.$('#sign-in').waitForDisplayed({ timeout: 20000 });
    await browser.$('#sign-in').click();
    await browser.$('#bio-choice').waitForDisplayed({ timeout: 5000 });
    if (!(await browser.$('#use-biometric').isSelected())) await browser.$('#use-biometric').click();
    await browser.$('#pin-new').setValue(PIN);
    await browser.$('#pin-confirm').setValue(PIN);
    await shot('20-choose-pin-and-fingerprint');
    await browser.$('#pin-submit').click();
    // Turning fingerprint unlock on takes the PIN just chosen and a matching finger.
    await tell('scan good');
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 30000 });
    if (!keyFile().biometric?.wrapped) throw new Error('no biometric wrap in the key file');
  });

  await browser.$('#lock').click();
  await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
  await browser.deleteSession(); // quit
  browser = await launch(); // next day

  await step('relaunch: "Welcome back", the PIN first (the key was held only by the app that quit); one refresh, no browser', async () => {
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 20000 });
    const welcome = await browser.$('#welcome').getText();
    if (welcome !== 'Welcome back, Alice Example') throw new Error(welcome);
    // By default the fingerprint releases a key held only in the app's memory: after a restart
    // the PIN opens the vault once, and fingerprint unlock starts again from it.
    await browser.$('#bio-changed').waitForDisplayed({ timeout: 5000 });
    if (await browser.$('#bio-unlock').isDisplayed()) throw new Error('the fingerprint button shows after a restart');
    await shot('25-relaunch-pin-first');
    const refreshesBefore = await refreshGrants();
    await browser.$('#pin-unlock').setValue(PIN);
    await browser.$('#unlock').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
    await browser.waitUntil(async () => (await browser.$('#who').getText()) === 'Alice Example');
    if (opened() !== 1) throw new Error(`the browser was opened again (${opened()} times in all)`);
    // The relaunched app holds no access token: the unlock costs exactly one refresh of its own
    // (the timeline's non-scheduled refreshes), and the IdP saw it.
    const timeline = async () => (await browser.$('#timeline-events').getText()).split('\n');
    await browser.waitUntil(async () => (await timeline()).some((l) => / refreshed \(/.test(l)), {
      timeout: 10000,
      timeoutMsg: 'no refresh on the timeline after the unlock',
    });
    const own = (await timeline()).filter((l) => / refreshed \((?!scheduled)/.test(l));
    if (own.length !== 1) throw new Error(`the unlock refreshed ${own.length} times: ${own.join(' | ')}`);
    // The IdP's own count agrees: exactly one refresh granted for the unlock (read as soon as
    // the timeline shows it; the first scheduled one is due ~5 s later with the 6-second token).
    const granted = (await refreshGrants()) - refreshesBefore;
    if (granted !== 1) throw new Error(`the IdP granted ${granted} refreshes for the unlock, not 1`);
  });

  await step('locked again: a finger that is not enrolled is refused, still locked', async () => {
    await browser.$('#lock').click();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
    await browser.$('#bio-start').waitForDisplayed({ timeout: 5000 });
    await browser.$('#bio-start').click();
    await bioStatus('Touch the fingerprint reader');
    await shot('21-touch-the-reader');
    await tell('scan bad');
    await bioStatus('no match');
    await shot('22-no-match');
    if (!(await browser.$('#screen-locked').isDisplayed())) throw new Error('not locked after a bad finger');
  });

  await step('the enrolled finger: the vault opens, a refresh, signed in, no browser', async () => {
    const refreshesBefore = await refreshGrants();
    await browser.$('#bio-start').click();
    await bioStatus('Touch the fingerprint reader');
    await tell('scan good');
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
    await browser.waitUntil(async () => (await browser.$('#who').getText()) === 'Alice Example');
    if (opened() !== 1) throw new Error(`the browser was opened again (${opened()} times in all)`);
    await browser.waitUntil(async () => (await refreshGrants()) > refreshesBefore, {
      timeout: 10000,
      timeoutMsg: 'the IdP granted no refresh',
    });
    const byFinger = (await refreshGrants()) - refreshesBefore;
    if (byFinger !== 1) throw new Error(`the IdP granted ${byFinger} refreshes for the fingerprint unlock, not 1`);
    await shot('23-unlocked-by-fingerprint');
  });

  await step('"Use PIN instead" ends the prompt; the PIN unlocks', async () => {
    await browser.$('#lock').click();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
    await browser.$('#bio-start').click();
    await bioStatus('Touch the fingerprint reader');
    await browser.$('#use-pin').click();
    await browser.$('#pin-unlock').waitForDisplayed({ timeout: 5000 });
    await browser.$('#pin-unlock').setValue(PIN);
    await browser.$('#unlock').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
  });

  const before = keyFile().biometric.wrapped;
  await step('enrolment removed: "biometrics changed", the PIN unlocks and wraps the key again', async () => {
    await browser.$('#lock').click();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
    await tell('remove');
    await browser.$('#bio-start').click();
    // The view now says the PIN is needed: the fingerprint button gives way to the note and the
    // PIN form.
    await browser.$('#bio-changed').waitForDisplayed({ timeout: 20000 });
    await browser.$('#pin-unlock').waitForDisplayed({ timeout: 5000 });
    await shot('24-biometrics-changed');
    await tell('enrol');
    await browser.$('#pin-unlock').setValue(PIN);
    await browser.$('#unlock').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
    const after = keyFile().biometric?.wrapped;
    if (!after || JSON.stringify(after) === JSON.stringify(before)) throw new Error('the key was not wrapped again');
  });

  await step('the new enrolment unlocks', async () => {
    await browser.$('#lock').click();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 10000 });
    await browser.$('#bio-start').waitForDisplayed({ timeout: 5000 });
    await browser.$('#bio-start').click();
    await bioStatus('Touch the fingerprint reader');
    await tell('scan good');
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
  });

  await step('fingerprint unlock turned off: the PIN form is back', async () => {
    await browser.$('#bio-toggle').click();
    await browser.waitUntil(async () => !keyFile().biometric, { timeout: 10000, timeoutMsg: 'still on' });
    await browser.$('#lock').click();
    await browser.$('#pin-unlock').waitForDisplayed({ timeout: 10000 });
    if (await browser.$('#bio-unlock').isDisplayed()) throw new Error('the fingerprint button still shows');
  });
} catch {
  // reported by step()
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
  cleanup();
  rmSync(data, { recursive: true, force: true });
}
console.log(`fingerprint e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === STEPS ? 0 : 1);
