// tauri-plugin-latchkey-api: the WebView's side of the plugin. Every function is one command
// (`plugin:latchkey|…`, each behind its own permission); none receives a token, key, verifier or
// `state`. Every function takes an optional `{ account }` last: omit it for the default account.

import { Channel, invoke } from '@tauri-apps/api/core';

import type {
  BiometricStatus,
  FetchResponse,
  LatchkeyError,
  Push,
  SessionEvent,
  SignOutResult,
  Status,
  StepUp,
} from './types';

export * from './types';

/** Names the account a call is for; omitted, the default account. */
export interface AccountOption {
  account?: string;
}

/** Normalises anything a call rejects with into `{ kind, message, field }`. */
export function toError(e: unknown): LatchkeyError {
  if (e && typeof e === 'object' && 'kind' in e && 'message' in e) {
    return e as LatchkeyError;
  }
  return { kind: 'internal', message: typeof e === 'string' ? e : 'Something went wrong.', field: null };
}

async function call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
  try {
    return await invoke<T>(`plugin:latchkey|${command}`, args);
  } catch (e) {
    throw toError(e);
  }
}

/** The account's status now (later changes arrive through `subscribe`). */
export function status(opts: AccountOption = {}): Promise<Status> {
  return call<Status>('status', { account: opts.account });
}

/**
 * Calls `onStatus` with the account's status at once and after every change, and `onEvent` with
 * each session event (a refresh, a rotation, a failure: for a timeline). Over an IPC channel
 * only this page receives. Returns a function that stops the callbacks.
 */
export async function subscribe(
  onStatus: (status: Status) => void,
  onEvent?: (event: SessionEvent) => void,
  opts: AccountOption = {},
): Promise<() => void> {
  let active = true;
  const channel = new Channel<Push>();
  channel.onmessage = (push) => {
    if (!active) return;
    if ('status' in push) onStatus(push.status);
    else onEvent?.(push.event);
  };
  await call<void>('subscribe', { account: opts.account, channel });
  return () => {
    active = false;
  };
}

/**
 * Signs in through the system browser. `pin` wraps the new vault key (the PIN); with
 * `biometric`, the platform's biometric unlock is set up too (the PIN stays the fallback).
 */
export function signIn(
  opts: { pin?: string | null; biometric?: boolean } & AccountOption = {},
): Promise<void> {
  return call<void>('sign_in', {
    account: opts.account,
    pin: opts.pin ?? null,
    biometric: opts.biometric ?? false,
  });
}

/** Cancels a sign-in waiting for the browser (it fails as `cancelled`). */
export function cancelSignIn(opts: AccountOption = {}): Promise<void> {
  return call<void>('cancel_sign_in', { account: opts.account });
}

/** Unlocks with the PIN, or with no PIN by the platform's biometric prompt; one refresh, no browser. */
export function unlock(opts: { pin?: string | null } & AccountOption = {}): Promise<void> {
  return call<void>('unlock', { account: opts.account, pin: opts.pin ?? null });
}

/** Ends a biometric prompt in progress ("use PIN instead"): that unlock fails as `cancelled`. */
export function cancelUnlock(opts: AccountOption = {}): Promise<void> {
  return call<void>('cancel_unlock', { account: opts.account });
}

/** What turning biometric unlock on takes: the user's PIN, checked in Rust (a wrong one counts
 * as a failed attempt), before the platform's own check (a matching finger on Linux). */
export interface BiometricOptions extends AccountOption {
  pin?: string | null;
  /** Linux: keep the vault key in the login keyring across restarts, where any program the user
   * runs can read it (default: only in this app's memory; the PIN opens it once after a restart). */
  keepAcrossRestarts?: boolean;
}

/** Turns the biometric unlock on (needs `pin`; prompts) or off (the session unlocked; the PIN
 * stays). A call without the user's PIN changes nothing. Needs `latchkey:allow-set-biometric`. */
export function setBiometric(enabled: boolean, opts: BiometricOptions = {}): Promise<BiometricStatus> {
  return call<BiometricStatus>('set_biometric', {
    account: opts.account,
    enabled,
    pin: opts.pin ?? null,
    keepAcrossRestarts: opts.keepAcrossRestarts ?? false,
  });
}

/** Locks: the tokens and the vault key are forgotten until the next unlock. */
export function lock(opts: AccountOption = {}): Promise<void> {
  return call<void>('lock', { account: opts.account });
}

/**
 * Signs out: revokes at the provider, erases the vault. With `everywhere`, the provider's
 * end-session page opens in the browser too.
 */
export function signOut(opts: { everywhere?: boolean } & AccountOption = {}): Promise<SignOutResult> {
  return call<SignOutResult>('sign_out', { account: opts.account, everywhere: opts.everywhere ?? false });
}

/** The userinfo claims (their `sub` checked against the ID token's). */
export function userinfo(opts: AccountOption = {}): Promise<Record<string, unknown>> {
  return call<Record<string, unknown>>('userinfo', { account: opts.account });
}

/** What `fetch` may send: a subset of the web's `RequestInit`. */
export interface FetchInit {
  /** Absent means GET. TRACE, CONNECT and other methods are refused. */
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Only `content-type`: the token, the DPoP proof and every other header are Rust's. */
  headers?: { 'content-type'?: string };
  /** Text, at most 1 MiB; not with GET or HEAD. */
  body?: string;
}

/**
 * `url` with the access token (and DPoP proof) added in Rust. Only origins the host app
 * allowed in Rust (`Builder::api_origin`); others reject with `origin_not_allowed`. A 401 gets
 * one refresh and one retry of the same request.
 */
export function fetch(url: string, init: FetchInit & AccountOption = {}): Promise<FetchResponse> {
  const { account, ...rest } = init;
  return call<FetchResponse>('fetch', { account, url, init: rest });
}

/**
 * Every account's status, the default first (no token in any): for an account switcher. A
 * single-account app never needs it.
 */
export function accounts(): Promise<Status[]> {
  return call<Status[]>('accounts');
}

/**
 * Adds the account `name` beside the others, signed out, with the app's provider or one the host
 * app offers by name (`provider`; script can't supply its own). Then `signIn({ account: name,
 * pin })` signs it in with its own PIN and vault. A name in use rejects with `wrong_state`.
 * Needs the `latchkey:allow-add-account` permission.
 */
export function addAccount(name: string, opts: { provider?: string } = {}): Promise<Status> {
  return call<Status>('add_account', { name, provider: opts.provider ?? null });
}

/** What the latest API call that failed with `step_up_required` asked for, or null. */
export function pendingStepUp(opts: AccountOption = {}): Promise<StepUp> {
  return call<StepUp>('pending_step_up', { account: opts.account });
}

/**
 * "Confirm it's you": signs the same user in again through the system browser at the level the
 * API asked for (decided in Rust from its challenge), then retries that call once and resolves
 * with its response. `cancelSignIn` cancels it; the session stays as it was.
 */
export function stepUp(opts: AccountOption = {}): Promise<FetchResponse> {
  return call<FetchResponse>('step_up', { account: opts.account });
}
