// The only module that talks to Rust: the plugin's API (tauri-plugin-latchkey-api) and the
// app's own commands (settings, the first-run probe, "Call API"). Everything else in the UI
// renders what this returns.
import { invoke } from '@tauri-apps/api/core';
import * as latchkey from 'tauri-plugin-latchkey-api';
import type { BiometricStatus, LatchkeyError, SessionEvent, SignOutResult, Status } from 'tauri-plugin-latchkey-api';

import type { ApiResult, Settings } from './types';

export * from 'tauri-plugin-latchkey-api';
export * from './types';

/** Normalises anything a call rejects with into `{kind, message}`. */
export const toError = latchkey.toError;

async function appCommand<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toError(e);
  }
}

/** The account the window shows (undefined: the default account). Every call names it. */
let active: string | undefined;

/** Where the window keeps the account it last showed: a name, never a token or a status. */
const ACCOUNT_KEY = 'latchkey.account';

/** Switches the account every call below acts on, and remembers it for the next launch. */
export function setAccount(name: string | undefined): void {
  active = name === 'default' ? undefined : name;
  try {
    if (active) localStorage.setItem(ACCOUNT_KEY, active);
    else localStorage.removeItem(ACCOUNT_KEY);
  } catch {
    // No storage (a private context): the window starts on the default account, as before.
  }
}

/**
 * The account the window showed last time, if it still exists among `known`; otherwise the
 * default one (an account signed out since is forgotten). Makes it the active account.
 */
export function restoreAccount(known: string[]): string {
  let remembered: string | null = null;
  try {
    remembered = localStorage.getItem(ACCOUNT_KEY);
  } catch {
    remembered = null;
  }
  setAccount(remembered !== null && known.includes(remembered) ? remembered : undefined);
  return activeAccount();
}

/** The account the window shows. */
export function activeAccount(): string {
  return active ?? 'default';
}

/**
 * The calls. Each returns only its own result; the state a call changes arrives as a pushed
 * status (`subscribe`). `status` is for the first render only.
 */
export const api = {
  status: (): Promise<Status> => latchkey.status({ account: active }),
  signIn: (pin: string | null, biometric = false) => latchkey.signIn({ pin, biometric, account: active }),
  cancelSignIn: () => latchkey.cancelSignIn({ account: active }),
  unlock: (pin: string | null) => latchkey.unlock({ pin, account: active }),
  /** Ends a biometric prompt in progress ("use PIN instead"). */
  cancelUnlock: () => latchkey.cancelUnlock({ account: active }),
  /** On needs the user's PIN (checked in Rust) and then the platform's check (the finger);
   * `keepAcrossRestarts` (Linux) puts the key in the login keyring, readable by any program. */
  setBiometric: (enabled: boolean, pin: string | null = null, keepAcrossRestarts = false): Promise<BiometricStatus> =>
    latchkey.setBiometric(enabled, { pin, keepAcrossRestarts, account: active }),
  lock: () => latchkey.lock({ account: active }),
  userinfo: () => latchkey.userinfo({ account: active }),
  signOut: (everywhere = false): Promise<SignOutResult> => latchkey.signOut({ everywhere, account: active }),
  callApi: () => appCommand<ApiResult>('call_api', { account: active }),
  /** Every account's status, for the switcher. */
  accounts: (): Promise<Status[]> => latchkey.accounts(),
  /** Adds an account with the app's provider, signed out. */
  addAccount: (name: string): Promise<Status> => latchkey.addAccount(name),
  /** What the API that answered `step_up_required` asked for (held in Rust), or null. */
  pendingStepUp: () => latchkey.pendingStepUp({ account: active }),
  /** "Confirm it's you": the step-up through the system browser, then the call once more. */
  stepUp: () => latchkey.stepUp({ account: active }),
  getSettings: () => appCommand<Settings>('get_settings'),
  saveSettings: (settings: Settings) => appCommand<void>('save_settings', { settings }),
  findDevIdp: () => appCommand<string | null>('find_dev_idp'),
};

/**
 * Calls back with each session event (for the timeline) and each new status (the state to
 * render); returns a function that stops it.
 */
export function subscribe(
  onEvent: (e: SessionEvent) => void,
  onStatus: (s: Status) => void,
): Promise<() => void> {
  return latchkey.subscribe(onStatus, onEvent, { account: active });
}

export type { LatchkeyError };
