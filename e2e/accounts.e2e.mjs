// The window test of the account switcher: the real app in a real WebKitGTK window (tauri-driver
// + WebKitWebDriver, under Xvfb) against the real dev IdP. Alice signs in to the default account;
// "Add account" adds bob beside her (his own sign-in and PIN); the switcher shows both; each
// account's Call API answers as its own user; signing out alice leaves bob signed in, with no
// prompt; a relaunch opens on bob, the account shown last. The login driver signs in as whoever
// LATCHKEY_DEV_USER_FILE names at that moment.
// A screenshot at each state. Run by scripts/e2e.sh.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { remote } from 'webdriverio';

import { app, children, idpStats, root, shots } from './harness.mjs';

const PIN = 'window-test-2468';
let failed = 0;

async function step(name, fn) {
  try {
    await fn();
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

const data = mkdtempSync(join(tmpdir(), 'latchkey-e2e-accounts-'));
const userFile = join(data, 'dev-user');
writeFileSync(userFile, 'alice\n');
const env = {
  ...process.env,
  LATCHKEY_ISSUER: issuer,
  LATCHKEY_CLIENT_ID: 'latchkey-native',
  LATCHKEY_PARAMS: 'prompt=consent',
  LATCHKEY_API_URL: `${issuer}/me`,
  LATCHKEY_DATA_DIR: data,
  LATCHKEY_DEV_USER_FILE: userFile,
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

const launch = () =>
  remote({
    hostname: '127.0.0.1',
    port: 4444,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });

let browser;
try {
  browser = await launch();
  const shot = (name) => browser.saveScreenshot(join(shots, `${name}.png`));
  const who = () => browser.$('#who').getText();
  const signInWithPin = async () => {
    await browser.$('#sign-in').waitForDisplayed({ timeout: 20000 });
    await browser.$('#sign-in').click();
    await browser.$('#pin-new').setValue(PIN);
    await browser.$('#pin-confirm').setValue(PIN);
    await browser.$('#pin-submit').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 30000 });
  };
  const switchTo = async (name, expectWho) => {
    await browser.$('#account-select').selectByAttribute('value', name);
    await browser.waitUntil(async () => (await who()) === expectWho, { timeout: 10000, timeoutMsg: `not ${expectWho}` });
  };
  const callApiAs = async (sub) => {
    await browser.$('#call-api').click();
    await browser.waitUntil(async () => (await browser.$('#api-result').getText()).includes(`"sub": "${sub}"`), {
      timeout: 10000,
      timeoutMsg: `the API did not answer as ${sub}`,
    });
  };

  await step('alice signs in to the default account', async () => {
    await signInWithPin();
    await browser.waitUntil(async () => (await who()) === 'Alice Example', { timeout: 10000 });
    await browser.$('#accounts-bar').waitForDisplayed({ timeout: 5000 });
  });

  await step('Add account: bob beside alice, his own sign-in and PIN', async () => {
    writeFileSync(userFile, 'bob\n');
    await browser.$('#add-account').click();
    await browser.$('#add-account-name').setValue('bob');
    await shot('20-accounts-add');
    await browser.$('#add-account-form button[type=submit]').click();
    await signInWithPin();
    await browser.waitUntil(async () => (await who()) === 'Bob Example', { timeout: 10000 });
    const options = await browser.$('#account-select').getText();
    if (!options.includes('Alice Example') || !options.includes('Bob Example')) throw new Error(`switcher: ${options}`);
    await callApiAs('bob');
    await shot('21-accounts-bob');
    const seen = await idpStats(issuer);
    if (seen.signIns !== 2) throw new Error(`the IdP granted ${seen.signIns} code exchanges, not 2`);
  });

  await step('switching shows the other account, its own timeline and API answer', async () => {
    await switchTo('default', 'Alice Example');
    await callApiAs('alice');
    await shot('22-accounts-alice');
    await switchTo('bob', 'Bob Example');
    await callApiAs('bob');
  });

  await step('signing out alice leaves bob signed in, with no prompt', async () => {
    await switchTo('default', 'Alice Example');
    await browser.$('#sign-out').click();
    await browser.$('#screen-signed-out').waitForDisplayed({ timeout: 20000 });
    const seen = await idpStats(issuer);
    if (seen.revokedRefreshTokens !== 1) throw new Error(`${seen.revokedRefreshTokens} refresh tokens revoked, not 1`);
    await browser.$('#account-select').selectByAttribute('value', 'bob');
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 10000 });
    if ((await who()) !== 'Bob Example') throw new Error(await who());
    await callApiAs('bob');
    await shot('23-accounts-alice-signed-out-bob-still-in');
  });

  // The window remembers which account it showed (its name only, in the WebView's storage), so a
  // relaunch opens on bob's locked vault; without that it would open on the signed-out default.
  await step('relaunch: the window opens on bob, the account it showed last, locked', async () => {
    await browser.deleteSession(); // quit the app
    browser = await launch();
    await browser.$('#screen-locked').waitForDisplayed({ timeout: 20000 });
    const welcome = await browser.$('#welcome').getText();
    if (welcome !== 'Welcome back, Bob Example') throw new Error(welcome);
    await shot('26-accounts-relaunch-opens-on-bob');
    await browser.$('#pin-unlock').setValue(PIN);
    await browser.$('#unlock').click();
    await browser.$('#screen-signed-in').waitForDisplayed({ timeout: 20000 });
    if ((await who()) !== 'Bob Example') throw new Error(await who());
    await callApiAs('bob');
  });
} catch {
  // reported by step()
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
}
console.log(failed ? `accounts window test: ${failed} failed` : 'accounts window test: passed');
process.exit(failed ? 1 : 0);
