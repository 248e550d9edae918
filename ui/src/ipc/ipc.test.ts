import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, test } from 'vitest';

import { screenFor, reauthText, signOutText, timelineText } from '../render';
import {
  activeAccount,
  api,
  restoreAccount,
  setAccount,
  toError,
  type SessionStatus,
  type Status,
} from './index';

const status: SessionStatus = {
  state: 'signed_in',
  issuer: 'http://127.0.0.1:1',
  subject: 'alice',
  display_name: 'Alice Example',
  scopes: ['openid'],
  has_refresh_token: true,
  key_bound: true,
  access_token_expires_in_secs: 4,
  access_token_expires_at: 1,
  access_token_lifetime_secs: 5,
  next_refresh_in_secs: 3,
  refresh_count: 0,
  rotation_count: 0,
  last_refresh_at: null,
  offline: false,
  reauth_reason: null,
};

const view: Status = {
  account: 'default',
  configured: true,
  config_error: null,
  session: status,
  unlock_method: 'pin',
  unlock_label: 'PIN',
  has_api: true,
  biometric: 'ready',
  biometric_label: 'fingerprint',
};

afterEach(() => clearMocks());

describe('the account the window shows', () => {
  afterEach(() => {
    setAccount(undefined);
    localStorage.clear();
  });

  test('the account shown last is shown again at the next launch while it exists', () => {
    setAccount('work');
    // The next launch: the module starts on the default account until it restores.
    setAccount(undefined);
    localStorage.setItem('latchkey.account', 'work');
    expect(restoreAccount(['default', 'work'])).toBe('work');
    expect(activeAccount()).toBe('work');
  });

  test('switching remembers the name only, and the default account is remembered as no name', () => {
    setAccount('work');
    expect(localStorage.getItem('latchkey.account')).toBe('work');
    expect(Object.keys(localStorage)).toEqual(['latchkey.account']);
    setAccount('default');
    expect(localStorage.getItem('latchkey.account')).toBeNull();
  });

  test('an account signed out since the last launch is forgotten: the default one is shown', () => {
    localStorage.setItem('latchkey.account', 'gone');
    expect(restoreAccount(['default', 'work'])).toBe('default');
    expect(localStorage.getItem('latchkey.account')).toBeNull();
  });
});

describe('the IPC module', () => {
  test("invokes each of the plugin's commands by name with its arguments (default account)", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return view;
    });
    await api.signIn('246810');
    await api.signIn('246810', true);
    await api.unlock(null);
    await api.cancelUnlock();
    await api.setBiometric(false);
    await api.setBiometric(true, '246810', true);
    await api.lock();
    expect(calls).toEqual([
      ['plugin:latchkey|sign_in', { pin: '246810', biometric: false }],
      ['plugin:latchkey|sign_in', { pin: '246810', biometric: true }],
      ['plugin:latchkey|unlock', { pin: null }],
      ['plugin:latchkey|cancel_unlock', {}],
      ['plugin:latchkey|set_biometric', { enabled: false, pin: null, keepAcrossRestarts: false }],
      ['plugin:latchkey|set_biometric', { enabled: true, pin: '246810', keepAcrossRestarts: true }],
      ['plugin:latchkey|lock', {}],
    ]);
  });

  test('a rejected command becomes {kind, message}', async () => {
    mockIPC(() => {
      throw { kind: 'locked', message: 'wrong PIN: 4 attempt(s) left' };
    });
    await expect(api.unlock('000000')).rejects.toEqual({
      kind: 'locked',
      message: 'wrong PIN: 4 attempt(s) left',
    });
  });

  test('anything else rejected is normalised to an internal error', () => {
    expect(toError('boom')).toEqual({ kind: 'internal', message: 'boom', field: null });
    expect(toError(undefined).kind).toBe('internal');
  });
});

describe('rendering decisions', () => {
  test('the screen follows the session state Rust reports', () => {
    expect(screenFor(view, false)).toBe('signed-in');
    expect(screenFor(view, true)).toBe('waiting');
    expect(screenFor({ ...view, session: { ...status, state: 'locked' } }, false)).toBe('locked');
    expect(screenFor({ ...view, session: { ...status, state: 'reauth_required' } }, false)).toBe('signed-out');
    expect(screenFor({ ...view, configured: false, session: null }, false)).toBe('unconfigured');
  });

  test('a revoked session explains itself', () => {
    const ended = { ...status, state: 'reauth_required' as const, reauth_reason: { reason: 'refresh_token_rejected' as const } };
    expect(reauthText(ended)).toContain('sign in again');
    const erased = { ...ended, reauth_reason: { reason: 'stored_session_erased' as const } };
    expect(reauthText(erased)).toContain('erased on this device');
    expect(reauthText(status)).toBeNull();
  });

  test('a sign-out that could not revoke at the server says the session lives on there', () => {
    expect(signOutText({ revocation: 'revoked', end_session_opened: false })).toContain('revoked at the server');
    for (const text of [
      signOutText({ revocation: 'failed', detail: 'the server could not be reached', end_session_opened: false }),
      signOutText({ revocation: 'not_supported', end_session_opened: false }),
      signOutText({ revocation: 'nothing_to_revoke', end_session_opened: false }),
    ]) {
      expect(text).toContain('on this device');
      expect(text).toContain('until it expires');
    }
    expect(signOutText({ revocation: 'failed', detail: 'HTTP 503', end_session_opened: false })).toContain('HTTP 503');
  });

  test('signing out in the browser too says when the server had no end-session page', () => {
    const opened = signOutText({ revocation: 'revoked', end_session_opened: true }, true);
    expect(opened).not.toContain('end-session');
    const none = signOutText({ revocation: 'revoked', end_session_opened: false }, true);
    expect(none).toContain('no end-session page');
  });

  test('the timeline marks scheduled refreshes and rotations', () => {
    const line = timelineText({ event: 'refreshed', trigger: 'scheduled', rotated: true, status }, new Date(0));
    expect(line).toContain('refreshed (scheduled)');
    expect(line).toContain('refresh token rotated');
    expect(line).toContain('key-bound (DPoP)');
    const bearer = timelineText({ event: 'refreshed', trigger: 'scheduled', rotated: false, status: { ...status, key_bound: false } }, new Date(0));
    expect(bearer).not.toContain('key-bound');
    expect(timelineText({ event: 'signed_out' }, new Date(0))).toBeNull();
  });
});
