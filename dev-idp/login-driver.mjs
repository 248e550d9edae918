#!/usr/bin/env node
// A headless "browser" for the dev IdP: given an authorization URL, it signs in through the IdP's
// login and consent forms with plain HTTP and a cookie jar, then delivers the final redirect to the
// app's loopback listener, exactly as a browser would. Use it through the BROWSER convention:
//
//   BROWSER="node dev-idp/login-driver.mjs %s" latchkey login
//
// Environment:
//   LATCHKEY_DEV_USER     account to sign in as (default: alice)
//   LATCHKEY_DEV_USER_FILE  a file whose first line names the account instead, read at each start
//                         (a window test switching users in one running app: alice, then bob)
//   LATCHKEY_DEV_ACTION   "login" (default) or "deny" (press the IdP's cancel link: access_denied)
//   LATCHKEY_DEV_OTP      the second factor given before each login form (default: the dev IdP's
//                         code 123456; empty: none, so a step-up to urn:latchkey:mfa falls short)
//   LATCHKEY_DRIVER_LOG   a file to append one line to each time the driver is started (tests
//                         use it to prove that a step needed no browser)
//   LATCHKEY_DRIVER_RECORD  a file to append the authorization URL and the redirect back to (one
//                         JSON line each; secret scans use its state, nonce and code_challenge)
//
// It only ever talks to loopback addresses. A redirect to an app link (a private-use scheme such as
// dev.latchkey.app:/callback, the mobile redirect) is not fetched: it is printed on stdout as
// "app-link <url>", which is what a phone's OS would hand to the app.

const LOOPBACK = new Set(['127.0.0.1', '[::1]']);
const { readFileSync } = await import('node:fs');
const userFile = process.env.LATCHKEY_DEV_USER_FILE;
const user =
  (userFile && readFileSync(userFile, 'utf8').split('\n')[0].trim()) || process.env.LATCHKEY_DEV_USER || 'alice';
const action = process.env.LATCHKEY_DEV_ACTION || 'login';
const otp = process.env.LATCHKEY_DEV_OTP ?? '123456';

function fail(message) {
  console.error(`login-driver: ${message}`);
  process.exit(1);
}

if (process.env.LATCHKEY_DRIVER_LOG) {
  const { appendFileSync } = await import('node:fs');
  appendFileSync(process.env.LATCHKEY_DRIVER_LOG, 'opened\n');
}

const start = process.argv[2];
if (!start) fail('usage: login-driver.mjs <authorization-url>');
async function record(kind, value) {
  if (!process.env.LATCHKEY_DRIVER_RECORD) return;
  const { appendFileSync } = await import('node:fs');
  appendFileSync(process.env.LATCHKEY_DRIVER_RECORD, `${JSON.stringify({ kind, value })}\n`);
}
await record('authorization_url', start);
let url;
try {
  url = new URL(start);
} catch {
  fail('the argument is not a URL');
}
if (!LOOPBACK.has(url.hostname)) fail(`refusing to drive a non-loopback host: ${url.hostname}`);
const idpOrigin = url.origin;
const jar = new Map();

function cookieHeader() {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

function remember(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}

async function request(target, init = {}) {
  const response = await fetch(target, {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers || {}), cookie: cookieHeader() },
  });
  remember(response);
  return response;
}

let method = 'GET';
let body;
for (let hop = 0; hop < 20; hop += 1) {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    await record('redirect', url.href);
    console.log(`app-link ${url.href}`);
    process.exit(0);
  }
  if (!LOOPBACK.has(url.hostname)) fail(`refusing to follow a redirect off loopback: ${url.hostname}`);
  if (url.origin !== idpOrigin) {
    // The redirect back to the app: deliver it like a browser and stop.
    await record('redirect', url.href);
    const response = await fetch(url, { redirect: 'manual' });
    await response.text();
    process.exit(response.ok ? 0 : 3);
  }
  const response = await request(url, method === 'POST'
    ? { method, body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }
    : {});
  method = 'GET';
  body = undefined;
  if (response.status >= 300 && response.status < 400) {
    url = new URL(response.headers.get('location'), url);
    continue;
  }
  const html = await response.text();
  if (response.status !== 200) fail(`the IdP answered ${response.status} at ${url.pathname}`);
  const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
  const prompt = /name="prompt" value="([a-z]+)"/.exec(html);
  if (!form || !prompt) fail(`no login or consent form at ${url.pathname}`);
  if (action === 'deny') {
    url = new URL(`${new URL(form[1], url).pathname}/abort`, url);
    continue;
  }
  const fields = prompt[1] === 'login'
    ? { prompt: 'login', login: user, password: 'any' }
    : { prompt: prompt[1] };
  url = new URL(form[1].replace(/&amp;/g, '&'), url);
  if (prompt[1] === 'login' && otp) {
    const second = await request(new URL(`${url.pathname}/otp`, url), {
      method: 'POST',
      body: new URLSearchParams({ otp }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await second.text();
    if (second.status !== 204) fail(`the second factor was refused (${second.status})`);
  }
  method = 'POST';
  body = new URLSearchParams(fields).toString();
}
fail('too many redirects');
