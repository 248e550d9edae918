// What the window tests share: where things are, and the processes they start. Every process a
// test starts goes into `children`, each leading its own process group (spawn with
// `detached: true`), so that `cleanup` — also run on exit — takes the daemons, WebKitWebDriver
// and the app with it.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const root = resolve(import.meta.dirname, '..');
export const app = resolve(root, process.env.LATCHKEY_APP ?? 'target/debug/latchkey-app');
export const shots = resolve(root, process.env.LATCHKEY_SHOTS ?? 'target/e2e-screenshots');
mkdirSync(shots, { recursive: true });

export const children = [];

export function cleanup() {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
  children.length = 0;
}
process.on('exit', cleanup);

/** The dev IdP's own counters (GET /dev/stats): what the server saw, not what the app says. */
export async function idpStats(issuer) {
  const response = await fetch(new URL('/dev/stats', issuer));
  if (!response.ok) throw new Error(`GET /dev/stats: HTTP ${response.status}`);
  const stats = await response.json();
  return {
    refreshes: stats.grants.refresh_token ?? 0,
    signIns: stats.grants.authorization_code ?? 0,
    revokedRefreshTokens: stats.revocations.refresh_tokens,
    revocationRequests: stats.revocations.requests,
  };
}

/** The dev IdP on an ephemeral port, `env` added to its environment: its first stdout line (issuer, ports). */
export async function startIdp(env = {}) {
  const idp = spawn('node', [join(root, 'dev-idp/server.mjs')], {
    env: { ...process.env, DEV_IDP_QUIET: '1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  children.push(idp);
  const line = await new Promise((ok) => createInterface({ input: idp.stdout }).once('line', ok));
  return JSON.parse(line);
}

/** tauri-driver with `env`, once it answers on 127.0.0.1:4444 (polled, at most 10 s). */
export async function startDriver(env) {
  const driver = spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', [], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.push(driver);
  for (let i = 0; i < 100; i += 1) {
    try {
      if ((await fetch('http://127.0.0.1:4444/status')).ok) return driver;
    } catch {
      // not up yet
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('tauri-driver did not start');
}

/** Named steps, counted: `step(name, fn)` prints ok / not ok and rethrows a failure. */
export function steps() {
  const count = { passed: 0, failed: 0 };
  const step = async (name, fn) => {
    try {
      await fn();
      count.passed += 1;
      console.log(`ok - ${name}`);
    } catch (e) {
      count.failed += 1;
      console.log(`not ok - ${name}: ${e.message}`);
      throw e;
    }
  };
  return { step, count };
}
