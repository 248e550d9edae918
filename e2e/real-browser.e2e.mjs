// The window test with a real browser: the real Latchkey app in a real WebKitGTK window
// (tauri-driver + WebKitWebDriver, under Xvfb) signs in through Debian's Chromium, a real browser
// window on the same display, against the real dev IdP.
//
// Chromium is started by the app itself, through the BROWSER convention the app honours (no shell,
// `%s` replaced by the authorization URL): BROWSER="/usr/bin/chromium <flags> %s". The flags are the
// ones Chromium needs as root on this machine, a fresh profile, and --remote-debugging-port=0 so the
// test can attach to it. The test attaches ChromeDriver to that running browser
// (goog:chromeOptions.debuggerAddress) only to fill the IdP's login and consent forms, as a person
// would; Chromium follows the redirects and delivers the callback to the app's loopback listener
// itself.
//
// launch → Sign in (choose a PIN) → Chromium opens the IdP → log in as alice → consent → Chromium
// lands on Latchkey's "Signed in" page on 127.0.0.1 → the app is signed in as alice → reload the
// success page (the listener is gone: Chromium's own error page, the app stays signed in) → Back
// (the IdP's page, no second sign-in) → Chromium and ChromeDriver are gone at the end.
// A screenshot of the browser or the app at each state.
//
// Run by scripts/e2e.sh after app.e2e.mjs (it builds the app, starts Xvfb and finds tauri-driver).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { remote } from 'webdriverio';

import { app, children, cleanup, idpStats, root, shots } from './harness.mjs';

const chromium = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';
const chromedriver = process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver';
const PIN = 'real-browser-1357';
const STEPS = 7;

let chromedriverChild;
let leaked = false;
let passed = 0;
let failed = 0;


// The live (non-zombie) processes whose command line mentions `needle` (the fresh profile
// directory: only the Chromium this test caused has it).
function processesMentioning(needle) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids;
}

async function poll(what, fn, timeout = 20000, interval = 100) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, interval));
  }
}

async function up(url) {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

async function startIdp() {
  const idp = spawn('node', [join(root, 'dev-idp/server.mjs')], {
    env: { ...process.env, DEV_IDP_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  children.push(idp);
  const line = await new Promise((ok) => createInterface({ input: idp.stdout }).once('line', ok));
  return JSON.parse(line);
}

// On free ports (not 4444), so it can run beside another window test.
async function startTauriDriver(env) {
  const port = await freePort();
  const nativePort = await freePort();
  const driver = spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', ['--port', `${port}`, '--native-port', `${nativePort}`], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.push(driver);
  await poll('tauri-driver', () => up(`http://127.0.0.1:${port}/status`), 10000);
  return port;
}

async function startChromedriver() {
  const port = await freePort();
  const driver = spawn(chromedriver, [`--port=${port}`, '--allowed-ips=127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  children.push(driver);
  chromedriverChild = driver;
  await poll('chromedriver', () => up(`http://127.0.0.1:${port}/status`), 10000);
  return port;
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

const started = Date.now();
const idp = await startIdp();
const data = mkdtempSync(join(tmpdir(), 'latchkey-real-browser-'));
const profile = join(data, 'chromium-profile');
// BROWSER is split on ':' into commands and each command into words; the profile path must not
// break either.
if (/[:\s'"\\]/.test(profile)) throw new Error(`unusable temp path for BROWSER: ${profile}`);
const browserFlags = [
  '--no-sandbox', // as root, Chromium refuses to start without it
  '--disable-gpu',
  '--disable-background-networking', // no network beyond loopback here
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--password-store=basic', // no keyring prompt for the password field
  '--window-size=1100,720',
  '--log-level=3', // fatal errors only on stderr: no D-Bus complaints (there is no session bus)
  '--remote-debugging-port=0', // Chromium picks a free port and writes it to DevToolsActivePort
  `--user-data-dir=${profile}`,
];
const env = {
  ...process.env,
  LATCHKEY_ISSUER: idp.issuer,
  LATCHKEY_CLIENT_ID: 'latchkey-native',
  LATCHKEY_PARAMS: 'prompt=consent',
  LATCHKEY_API_URL: `${idp.issuer}/me`,
  LATCHKEY_DATA_DIR: join(data, 'app'),
  BROWSER: `${chromium} ${browserFlags.join(' ')} %s`,
};
const tauriDriverPort = await startTauriDriver(env);
const idpOrigin = new URL(idp.issuer).origin;

let appWindow;
let web; // the ChromeDriver session attached to the Chromium the app started
try {
  appWindow = await remote({
    hostname: '127.0.0.1',
    port: tauriDriverPort,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });
  const appShot = (name) => appWindow.saveScreenshot(join(shots, `${name}.png`));
  const webShot = (name) => web.saveScreenshot(join(shots, `${name}.png`));
  const appSignedInAsAlice = async () => {
    if (!(await appWindow.$('#screen-signed-in').isDisplayed())) throw new Error('the app is not on the signed-in screen');
    const who = await appWindow.$('#who').getText();
    if (who !== 'Alice Example') throw new Error(`signed in as ${JSON.stringify(who)}`);
    if (await appWindow.$('#error').isDisplayed()) throw new Error(`the app shows an error: ${await appWindow.$('#error').getText()}`);
  };
  const bodyText = () => web.execute(() => document.body?.innerText ?? '');

  await step('Sign in (choose a PIN) starts Chromium through BROWSER at the IdP', async () => {
    await appWindow.$('#sign-in').waitForDisplayed({ timeout: 20000 });
    await appWindow.$('#sign-in').click();
    await appWindow.$('#pin-new').setValue(PIN);
    await appWindow.$('#pin-confirm').setValue(PIN);
    await appWindow.$('#pin-submit').click();
    const portFile = join(profile, 'DevToolsActivePort');
    const devtools = await poll(
      'Chromium to write DevToolsActivePort',
      () => existsSync(portFile) && /^\d+$/m.exec(readFileSync(portFile, 'utf8'))?.[0],
      30000,
    );
    await poll('Chromium DevTools', () => up(`http://127.0.0.1:${devtools}/json/version`), 10000);
    const cdPort = await startChromedriver();
    web = await remote({
      hostname: '127.0.0.1',
      port: cdPort,
      logLevel: 'warn',
      capabilities: {
        browserName: 'chrome',
        'wdio:enforceWebDriverClassic': true,
        'goog:chromeOptions': { debuggerAddress: `127.0.0.1:${devtools}` },
      },
    });
    await web.waitUntil(async () => (await web.getUrl()).startsWith(`${idpOrigin}/interaction/`), {
      timeout: 20000,
      timeoutMsg: 'Chromium did not reach the IdP interaction page',
    });
    const version = await web.execute(() => navigator.userAgent);
    if (!/Chrome\/\d+/.test(version)) throw new Error(`not Chromium: ${version}`);
  });

  await step('the IdP login form in Chromium: alice', async () => {
    await web.$('input[name="login"]').waitForDisplayed({ timeout: 20000 });
    await web.$('input[name="login"]').setValue('alice');
    await web.$('input[name="password"]').setValue('correct-horse');
    await webShot('11-real-browser-idp-login');
    await web.$('button[type="submit"]').click();
  });

  await step('the IdP consent form in Chromium: Continue', async () => {
    await web.$('input[name="prompt"][value="consent"]').waitForExist({ timeout: 20000 });
    await webShot('12-real-browser-consent');
    await web.$('button[type="submit"]').click();
  });

  let callback;
  await step("Chromium delivers the redirect: Latchkey's success page on 127.0.0.1, the app signed in as alice", async () => {
    await web.waitUntil(async () => new URL(await web.getUrl()).origin !== idpOrigin, {
      timeout: 20000,
      timeoutMsg: 'Chromium stayed on the IdP',
    });
    callback = new URL(await web.getUrl());
    if (callback.hostname !== '127.0.0.1') throw new Error(`redirected to ${callback.origin}`);
    if (!callback.searchParams.has('code') || !callback.searchParams.has('state')) throw new Error('no code or state in the callback');
    await web.waitUntil(async () => (await bodyText()).includes('Signed in'), { timeout: 10000, timeoutMsg: 'no success page' });
    await webShot('13-real-browser-success');
    await appWindow.$('#screen-signed-in').waitForDisplayed({ timeout: 30000 });
    await appWindow.waitUntil(async () => (await appWindow.$('#who').getText()) === 'Alice Example', { timeout: 10000 });
    await appSignedInAsAlice();
    await appShot('14-real-browser-app-signed-in');
  });

  await step("reload the success page: the listener is gone, Chromium's own error page, the app stays signed in", async () => {
    // ChromeDriver reports the failed navigation as an error; the page is what counts.
    await web.refresh().catch(() => {});
    await web.waitUntil(async () => (await bodyText()).includes('ERR_CONNECTION_REFUSED'), {
      timeout: 20000,
      timeoutMsg: 'no connection-refused error page after the reload',
    });
    const docUrl = await web.execute(() => document.URL);
    if (!docUrl.startsWith('chrome-error://')) throw new Error(`not Chromium's error page: ${docUrl}`);
    await webShot('15-real-browser-reload-refused');
    await appSignedInAsAlice();
  });

  await step('Back: the IdP, not a second sign-in; the app stays signed in', async () => {
    await web.back();
    await web.waitUntil(async () => new URL(await web.getUrl()).origin === idpOrigin, {
      timeout: 20000,
      timeoutMsg: 'Back did not return to the IdP',
    });
    // The interaction is finished: the IdP must not complete a sign-in (a new callback) again.
    await web.waitUntil(async () => (await web.execute(() => document.readyState)) === 'complete', { timeout: 10000 });
    const url = new URL(await web.getUrl());
    if (url.origin !== idpOrigin) throw new Error(`Back went on to ${url.origin}`);
    // The consent page's URL again, but its interaction is over (and its cookie gone): the IdP
    // says so instead of showing the form.
    await web.waitUntil(async () => (await bodyText()).includes('interaction session not found'), {
      timeout: 10000,
      timeoutMsg: `Back showed something else: ${(await bodyText()).slice(0, 200)}`,
    });
    await webShot('16-real-browser-back');
    await appSignedInAsAlice();
    const signIns = (await appWindow.$('#timeline-events').getText()).split('\n').filter((l) => / signed in( · |$)/.test(l));
    if (signIns.length !== 1) throw new Error(`the timeline shows ${signIns.length} sign-ins`);
    // The IdP's own count: one code exchange in all, so Back completed no second sign-in.
    const { signIns: exchanged } = await idpStats(idp.issuer);
    if (exchanged !== 1) throw new Error(`the IdP granted ${exchanged} code exchanges, not 1`);
    await appShot('17-real-browser-app-still-signed-in');
  });

  await step('one Chromium was started for the one sign-in', async () => {
    const handles = await web.getWindowHandles();
    if (handles.length !== 1) throw new Error(`${handles.length} tabs open`);
    // The browser process is the one without --type= (zygotes, renderers and utilities have one;
    // some rewrite their command line into one string, so look at the whole of it).
    const cmdline = (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const browsers = processesMentioning(profile).filter((pid) => !cmdline(pid).includes('--type='));
    if (browsers.length !== 1) {
      throw new Error(`${browsers.length} Chromium browser processes for this profile: ${browsers.map(cmdline).join(' | ')}`);
    }
  });
} catch {
  // reported by step()
} finally {
  if (web) await web.deleteSession().catch(() => {}); // detaches; the browser is killed below
  if (appWindow) await appWindow.deleteSession().catch(() => {});
  cleanup();
  // Chromium is the app's child (in tauri-driver's process group, killed above); kill anything left
  // with this test's profile, then wait until none remains.
  for (const pid of processesMentioning(profile)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  // The test's own clean-up, checked (a leak fails the run) but not counted as a step: it
  // shows nothing about the app.
  try {
    await poll('Chromium to exit', () => processesMentioning(profile).length === 0, 10000);
    if (chromedriverChild) {
      await poll('ChromeDriver to exit', () => chromedriverChild.exitCode !== null || chromedriverChild.signalCode !== null, 10000);
    }
    console.log('clean-up: Chromium and ChromeDriver are gone');
  } catch (e) {
    leaked = true;
    console.log(`clean-up failed: ${e.message}`);
  }
  rmSync(data, { recursive: true, force: true });
}
console.log(`(real browser test took ${((Date.now() - started) / 1000).toFixed(1)} s)`);
console.log(`e2e real browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === STEPS && !leaked ? 0 : 1);
