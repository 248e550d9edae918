// Rendering: pure functions from what Rust sent to the DOM. No tokens, no timers, no refresh
// logic: the access-token bar drains by a CSS animation whose duration is the remaining lifetime
// Rust reported; each new view restarts it.
import type { Status, Revocation, SessionEvent, SessionStatus, SignOutResult } from 'tauri-plugin-latchkey-api';
import { PRESETS, sentence, type FieldErrors, type FieldId, type Preset, type Values } from './providers';

export type Screen = 'unconfigured' | 'signed-out' | 'waiting' | 'locked' | 'signed-in';

const SCREENS: Screen[] = ['unconfigured', 'signed-out', 'waiting', 'locked', 'signed-in'];

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
}

/** Which screen a view asks for (`waiting` is the UI's own: a sign-in call in flight). */
export function screenFor(view: Status, waiting: boolean): Screen {
  if (!view.configured || !view.session) return 'unconfigured';
  if (waiting) return 'waiting';
  switch (view.session.state) {
    case 'signed_in':
      return 'signed-in';
    case 'locked':
      return 'locked';
    default:
      return 'signed-out';
  }
}

export function who(status: SessionStatus): string {
  return status.display_name ?? status.subject ?? 'you';
}

export function clock(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleTimeString();
}

export function reauthText(status: SessionStatus): string | null {
  if (status.state !== 'reauth_required' || !status.reauth_reason) return null;
  switch (status.reauth_reason.reason) {
    case 'refresh_token_rejected':
      return 'Your session ended at the server (the refresh token was revoked or expired). Please sign in again.';
    case 'no_refresh_token':
      return 'The server issued no refresh token and the access token expired. Please sign in again.';
    case 'access_token_rejected':
      return 'The API rejected a freshly refreshed token. Please sign in again.';
    case 'ended_elsewhere':
      return 'Another Latchkey process ended this session. Please sign in again.';
    case 'stored_session_erased':
      return 'The stored session was erased on this device (too many wrong PINs, or your biometrics changed). Please sign in again.';
    case 'dpop_key_missing':
      return 'This session has no key to bind its tokens to, and your settings require DPoP. Please sign in again.';
    case 'dpop_proof_rejected':
      return 'The server kept rejecting this session\'s proof of its key. Please sign in again (a new key is made).';
  }
}

export function render(view: Status, waiting: boolean): void {
  const screen = screenFor(view, waiting);
  for (const s of SCREENS) el(`screen-${s}`).hidden = s !== screen;
  document.querySelectorAll('.unlock-label').forEach((n) => (n.textContent = view.unlock_label));
  el('pin-setup').dataset.needsPin = String(view.unlock_method === 'pin');
  el('unlock-form').dataset.needsPin = String(view.unlock_method === 'pin');
  el('offline').hidden = !view.session?.offline;
  // Unconfigured, the first-run screen is the settings form.
  el<HTMLDetailsElement>('settings').hidden = screen !== 'signed-out';

  const status = view.session;
  if (!status) return;
  const reauth = reauthText(status);
  el('reauth-reason').hidden = !reauth;
  el('reauth-reason').textContent = reauth ?? '';
  el('signed-out-title').textContent = reauth ? 'Sign-in required' : 'You are signed out';
  el('welcome').textContent = `Welcome back, ${who(status)}`;
  el('who').textContent = who(status);
  el('call-api').hidden = !view.has_api;

  const remaining = status.access_token_expires_in_secs;
  const lifetime = status.access_token_lifetime_secs;
  const fill = el('bar-fill');
  if (remaining !== null && lifetime) {
    const from = Math.min(100, (remaining / lifetime) * 100);
    fill.style.setProperty('--from', `${from}%`);
    fill.style.animationDuration = `${remaining}s`;
    // Restart the animation for the new token.
    fill.classList.remove('draining');
    void fill.offsetWidth;
    fill.classList.add('draining');
    el('token-meta').textContent = `valid for ${remaining} s of ${lifetime} s · ${status.refresh_count} refreshes, ${status.rotation_count} rotations${status.key_bound ? ' · key-bound (DPoP)' : ''}`;
  } else {
    fill.classList.remove('draining');
    el('token-meta').textContent = status.state === 'signed_in' ? 'obtained on first use' : '';
  }
  el('next-refresh').textContent =
    status.next_refresh_in_secs !== null
      ? `Next background refresh at ${clock(Date.now() / 1000 + status.next_refresh_in_secs)}`
      : status.has_refresh_token
        ? ''
        : 'No refresh token: sign in again when the access token expires.';
}

/** One line in the timeline for an event, or null if it isn't a timeline event. */
export function timelineText(event: SessionEvent, now: Date): string | null {
  const t = now.toLocaleTimeString();
  switch (event.event) {
    case 'signed_in':
      return `${t} signed in${event.status.key_bound ? ' · key-bound (DPoP)' : ''}`;
    case 'refreshed':
      return `${t} refreshed (${event.trigger.replace('_', ' ')})${event.rotated ? ' · refresh token rotated' : ''}${event.status.key_bound ? ' · key-bound (DPoP)' : ''}`;
    case 'refresh_failed':
      return `${t} refresh failed: ${event.message}${event.retry_in_secs !== null ? ` · retry in ${event.retry_in_secs} s` : ''}`;
    case 'session_ended':
      return `${t} session ended`;
    case 'locked':
      return `${t} locked`;
    default:
      return null;
  }
}

export function appendTimeline(event: SessionEvent): void {
  const text = timelineText(event, new Date());
  if (!text) return;
  const li = document.createElement('li');
  li.textContent = text;
  li.className = event.event;
  const list = el('timeline-events');
  list.prepend(li);
  while (list.children.length > 12) list.lastElementChild?.remove();
}

/** What signing out did at the server, in the user's words: a sign-out that could not revoke
 * must say so, because the refresh token then stays valid at the server until it expires. */
export function signOutText(result: SignOutResult, everywhere = false): string {
  const browser =
    everywhere && !result.end_session_opened
      ? ' The server has no end-session page, so the browser may still be signed in there.'
      : '';
  return revocationText(result) + browser;
}

function revocationText(result: Revocation): string {
  switch (result.revocation) {
    case 'revoked':
      return 'Signed out. The session was revoked at the server.';
    case 'not_supported':
      return 'Signed out on this device. The server offers no revocation, so the session stays valid there until it expires.';
    case 'nothing_to_revoke':
      return 'Signed out on this device. The session was locked, so it was not revoked at the server: it stays valid there until it expires.';
    case 'failed':
      return `Signed out on this device, but the server could not be told (${result.detail}). The session stays valid there until it expires.`;
  }
}

export function showSignOutNote(text: string | null): void {
  const note = el('sign-out-note');
  note.hidden = !text;
  note.textContent = text ?? '';
}

export function showError(message: string | null): void {
  const box = el('error');
  box.hidden = !message;
  box.textContent = message ?? '';
}

export function showApiResult(text: string | null): void {
  const pre = el('api-result');
  pre.hidden = text === null;
  pre.textContent = text ?? '';
}

/** Why the stored settings are unusable, when there are stored settings (a fresh install has
 * none, and the first-run screen says what to do). */
export function showConfigProblem(message: string | null): void {
  const p = el('config-error');
  p.hidden = !message;
  p.textContent = message ? `The saved settings can't be used: ${sentence(message)}` : '';
}

/** The provider choice: one radio per preset. */
export function renderProviders(selected: Preset['id']): void {
  const box = el('providers');
  box.querySelectorAll('label').forEach((n) => n.remove());
  for (const preset of PRESETS) {
    const label = document.createElement('label');
    label.className = 'provider';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'provider';
    input.value = preset.id;
    input.id = `provider-${preset.id}`;
    input.checked = preset.id === selected;
    label.append(input, preset.name);
    box.append(label);
  }
}

/** The chosen preset's fields, with `values`; errors cleared. */
export function renderFirstRun(preset: Preset, values: Values): void {
  el('provider-register').textContent = preset.register;
  const fields = el('first-run-fields');
  fields.replaceChildren();
  for (const field of preset.fields) {
    const label = document.createElement('label');
    label.htmlFor = `fr-${field.id}`;
    label.append(field.optional ? `${field.label} (optional)` : field.label);
    const input = document.createElement('input');
    input.id = `fr-${field.id}`;
    input.name = field.id;
    input.value = values[field.id] ?? '';
    input.placeholder = field.placeholder ?? '';
    input.spellcheck = false;
    input.setAttribute('aria-describedby', `fr-${field.id}-error`);
    label.append(input);
    if (field.hint) {
      const hint = document.createElement('span');
      hint.className = 'hint';
      hint.textContent = field.hint;
      label.append(hint);
    }
    const error = document.createElement('p');
    error.className = 'field-error';
    error.id = `fr-${field.id}-error`;
    error.hidden = true;
    label.append(error);
    fields.append(label);
  }
  const docs = el('provider-docs');
  docs.hidden = !preset.docs;
  el('provider-docs-url').textContent = preset.docs ?? '';
  showIssuerPreview(preset, values);
  showFieldErrors(preset, {}, null);
}

/** For a preset whose issuer is built from other fields: the issuer they make. */
export function showIssuerPreview(preset: Preset, values: Values): void {
  const built = !preset.fields.some((f) => f.id === 'issuer');
  el('first-run-issuer').hidden = !built;
  el('first-run-issuer-value').textContent = preset.issuer(values) ?? '(fill in the fields above)';
}

/** Each field's message next to it (the issuer's under the preview when it is built), and one
 * for the form as a whole. */
export function showFieldErrors(preset: Preset, errors: FieldErrors, general: string | null): void {
  const ids: FieldId[] = preset.fields.map((f) => f.id);
  for (const id of ids) {
    const p = document.getElementById(`fr-${id}-error`);
    const input = document.getElementById(`fr-${id}`);
    if (!p || !input) continue;
    p.hidden = !errors[id];
    p.textContent = errors[id] ?? '';
    input.setAttribute('aria-invalid', String(Boolean(errors[id])));
  }
  const derived = el('fr-issuer-derived-error');
  const derivedMessage = ids.includes('issuer') ? undefined : errors.issuer;
  derived.hidden = !derivedMessage;
  derived.textContent = derivedMessage ?? '';
  const form = el('first-run-error');
  form.hidden = !general;
  form.textContent = general ?? '';
}
