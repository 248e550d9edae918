// What the window tests share: where things are, and the processes they start. Every process a
// test starts goes into `children`, each leading its own process group (spawn with
// `detached: true`), so that `cleanup` — also run on exit — takes the daemons, WebKitWebDriver
// and the app with it.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

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
