// The only module that talks to Tauri. Everything else in the UI renders what this returns.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

import {
  EVENT,
  VIEW,
  type ApiResult,
  type AppView,
  type BiometricStatus,
  type IpcError,
  type SignOutResult,
  type SessionEvent,
  type Settings,
} from './types';

export * from './types';

/** Normalises anything a command rejects with into `{kind, message}`. */
export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object' && 'kind' in e && 'message' in e) {
    return e as IpcError;
  }
  return { kind: 'internal', message: typeof e === 'string' ? e : 'Something went wrong.' };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

/**
 * The commands. Each returns only its own result; the state a command changes arrives as a
 * pushed view (`subscribe`). `view` is for the first render only.
 */
export const api = {
  view: () => call<AppView>('app_view'),
  signIn: (pin: string | null, biometric = false) => call<void>('sign_in', { pin, biometric }),
  cancelSignIn: () => call<void>('cancel_sign_in'),
  unlock: (pin: string | null) => call<void>('unlock', { pin }),
  /** Ends a biometric prompt in progress ("use PIN instead"). */
  cancelUnlock: () => call<void>('cancel_unlock'),
  /** On needs the user's PIN (checked in Rust) and then the platform's check (the finger);
   * `keepAcrossRestarts` (Linux) puts the key in the login keyring, readable by any program. */
  setBiometric: (enabled: boolean, pin: string | null = null, keepAcrossRestarts = false) =>
    call<BiometricStatus>('set_biometric', { enabled, pin, keepAcrossRestarts }),
  lock: () => call<void>('lock'),
  callApi: () => call<ApiResult>('call_api'),
  userinfo: () => call<Record<string, unknown>>('userinfo'),
  signOut: (everywhere = false) => call<SignOutResult>('sign_out', { everywhere }),
  getSettings: () => call<Settings>('get_settings'),
  saveSettings: (settings: Settings) => call<void>('save_settings', { settings }),
  findDevIdp: () => call<string | null>('find_dev_idp'),
};

/**
 * Calls back with each session event (for the timeline) and each new view (the state to render);
 * returns a function that stops it.
 */
export async function subscribe(
  onEvent: (e: SessionEvent) => void,
  onView: (v: AppView) => void,
): Promise<() => void> {
  const unlisten: UnlistenFn[] = await Promise.all([
    listen<SessionEvent>(EVENT, (e) => onEvent(e.payload)),
    listen<AppView>(VIEW, (e) => onView(e.payload)),
  ]);
  return () => unlisten.forEach((u) => u());
}
