// Wires user actions to IPC calls and renders whatever Rust sends back.
import {
  activeAccount,
  restoreAccount,
  api,
  setAccount,
  subscribe,
  type Status,
  type LatchkeyError,
  type Settings,
} from './ipc';
import {
  buildSettings,
  initialValues,
  presetById,
  sentence,
  settingToField,
  type FieldId,
  type Preset,
  type Values,
} from './providers';
import { NEW_PIN_RULE, newPinIsStrongEnough } from './pinRule';
import {
  appendTimeline,
  render,
  renderFirstRun,
  renderProviders,
  showApiResult,
  showConfigProblem,
  showError,
  showFieldErrors,
  showIssuerPreview,
  showSignOutNote,
  signOutText,
} from './render';

// The settings as loaded: the forms edit some fields; the others (redirect ports, timeouts) are
// kept as they were when they save.
let loaded: Settings = {};
let view: Status | null = null;
let waiting = false;

function update(next: Status): void {
  // A push from an account the window no longer shows (its subscription is being replaced).
  if (next.account !== activeAccount()) return;
  if (next.session?.state !== 'locked') usingPin = false;
  view = next;
  render(next, waiting);
  renderBiometric(next);
  showConfigProblem(loaded.issuer || loaded.client_id ? next.config_error : null);
}

// Biometric unlock: the user chose the PIN for this unlock; a prompt is in progress.
let usingPin = false;
let prompting = false;

/** What the biometric parts of the screens show (the view says what the platform offers). */
function renderBiometric(v: Status): void {
  const offered = v.biometric !== 'not_offered';
  const ready = v.biometric === 'ready' && !usingPin;
  document.querySelectorAll('.bio-label').forEach((n) => (n.textContent = v.biometric_label ?? ''));
  byId('bio-choice').hidden = !offered;
  byId('bio-unlock').hidden = !ready;
  byId('unlock-form').hidden = ready;
  byId('bio-changed').hidden = v.biometric !== 'needs_pin';
  byId('bio-set-up-again').hidden = v.biometric !== 'set_up_again';
  byId<HTMLButtonElement>('bio-start').disabled = prompting;
  const toggle = byId('bio-toggle');
  toggle.hidden = !offered || v.session?.state !== 'signed_in';
  toggle.textContent = `Turn ${v.biometric_label ?? 'biometric'} unlock ${v.biometric === 'off' ? 'on' : 'off'}`;
}

function bioStatus(text: string): void {
  byId('bio-status').textContent = text;
}

byId('bio-start').addEventListener('click', () => {
  prompting = true;
  if (view) renderBiometric(view);
  showError(null);
  bioStatus(`Touch the ${view?.biometric_label ?? 'fingerprint'} reader…`);
  void (async () => {
    try {
      await api.unlock(null);
      bioStatus('');
    } catch (e) {
      // Rust's sentence: no match, cancelled, unavailable, or biometrics changed (the view then
      // says needs_pin and the PIN form shows).
      bioStatus((e as LatchkeyError).message);
      // A lost biometric key changes what the view offers without changing the session state.
      update(await api.status());
      const label = byId('bio-start').firstChild;
      if (label) label.textContent = 'Try again with ';
    } finally {
      prompting = false;
      if (view) renderBiometric(view);
    }
  })();
});

byId('use-pin').addEventListener('click', () => {
  usingPin = true;
  if (prompting) void api.cancelUnlock();
  bioStatus('');
  if (view) renderBiometric(view);
  byId<HTMLInputElement>('pin-unlock').focus();
});

byId('bio-toggle').addEventListener('click', () => {
  if (view?.biometric === 'off') {
    // On needs the user's PIN, then their finger: Rust checks both.
    byId('bio-enable').hidden = false;
    byId<HTMLInputElement>('bio-enable-pin').focus();
    return;
  }
  void act(async () => {
    const biometric = await api.setBiometric(false);
    if (view) update({ ...view, biometric });
  });
});

byId('bio-enable-cancel').addEventListener('click', () => {
  byId('bio-enable').hidden = true;
  byId<HTMLInputElement>('bio-enable-pin').value = '';
});

byId('bio-enable').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = byId<HTMLInputElement>('bio-enable-pin');
  const keep = byId<HTMLInputElement>('bio-keep').checked;
  const pin = input.value;
  input.value = '';
  void act(async () => {
    const biometric = await api.setBiometric(true, pin, keep);
    byId('bio-enable').hidden = true;
    if (view) update({ ...view, biometric });
  });
});

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** Runs a command; the state it changes arrives as a pushed view, errors are shown here. */
async function act(action: () => Promise<void>): Promise<void> {
  showError(null);
  try {
    await action();
  } catch (e) {
    const err = e as LatchkeyError;
    if (err.kind !== 'cancelled') showError(err.message);
  }
}

function needsPin(): boolean {
  return view?.unlock_method === 'pin';
}

byId('sign-in').addEventListener('click', () => {
  if (needsPin()) {
    byId('pin-setup').hidden = false;
    byId<HTMLInputElement>('pin-new').focus();
  } else {
    void startSignIn(null);
  }
});

byId<HTMLFormElement>('pin-setup').addEventListener('submit', (e) => {
  e.preventDefault();
  const pin = byId<HTMLInputElement>('pin-new').value;
  const confirm = byId<HTMLInputElement>('pin-confirm').value;
  if (pin !== confirm) {
    showError('The two PINs differ.');
    return;
  }
  if (!newPinIsStrongEnough(pin)) {
    showError(`Choose a longer PIN: ${NEW_PIN_RULE}.`);
    return;
  }
  void startSignIn(pin);
});

async function startSignIn(pin: string | null): Promise<void> {
  waiting = true;
  showSignOutNote(null);
  if (view) render(view, waiting);
  byId<HTMLInputElement>('pin-new').value = '';
  byId<HTMLInputElement>('pin-confirm').value = '';
  byId('pin-setup').hidden = true;
  try {
    const biometric =
      view?.biometric !== 'not_offered' && byId<HTMLInputElement>('use-biometric').checked;
    await act(() => api.signIn(pin, biometric));
  } finally {
    waiting = false;
    if (view) render(view, waiting);
  }
}

byId('cancel').addEventListener('click', () => void api.cancelSignIn());

byId<HTMLFormElement>('unlock-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = byId<HTMLInputElement>('pin-unlock');
  const pin = needsPin() ? input.value : null;
  input.value = '';
  void act(() => api.unlock(pin));
});

byId('lock').addEventListener('click', () => {
  showApiResult(null);
  void act(api.lock);
});

function signOut(everywhere: boolean): void {
  showApiResult(null);
  void act(async () => {
    const note = signOutText(await api.signOut(everywhere), everywhere);
    // Another account signed out is gone: show the default one.
    if (activeAccount() !== 'default') await showAccount('default');
    showSignOutNote(note);
  });
}

byId('sign-out').addEventListener('click', () =>
  signOut(byId<HTMLInputElement>('sign-out-everywhere').checked),
);
// Locked: the ID token for the end-session request is in the vault, so only a local sign-out.
byId('forget').addEventListener('click', () => signOut(false));

function showResponse(status: number, body: unknown): void {
  showApiResult(`HTTP ${status}\n${JSON.stringify(body, null, 2)}`);
}

/** The "Confirm it's you" panel for a call that needs a stronger or more recent sign-in: what
 * it says comes from the API's challenge, held in Rust. */
async function offerStepUp(): Promise<void> {
  const asked = await api.pendingStepUp();
  if (!asked) return;
  const parts: string[] = [];
  if (asked.acr_values.length > 0) parts.push(`a stronger sign-in (${asked.acr_values.join(', ')})`);
  if (asked.max_age !== null) parts.push(`a sign-in within the last ${asked.max_age} s`);
  byId('step-up-text').textContent =
    `This call needs ${parts.join(' and ') || 'a new sign-in'}. You'll confirm in your browser; you stay signed in either way.`;
  byId('step-up').hidden = false;
}

byId('call-api').addEventListener('click', () => {
  showError(null);
  byId('step-up').hidden = true;
  void (async () => {
    try {
      const result = await api.callApi();
      showResponse(result.status, result.body);
    } catch (e) {
      const err = e as LatchkeyError;
      if (err.kind === 'step_up_required') await offerStepUp();
      else if (err.kind !== 'cancelled') showError(err.message);
    }
  })();
});

let steppingUp = false;
byId('step-up-confirm').addEventListener('click', () => {
  if (steppingUp) return;
  steppingUp = true;
  byId('step-up-confirm').textContent = 'Waiting for the browser…';
  void act(async () => {
    try {
      const response = await api.stepUp();
      byId('step-up').hidden = true;
      let body: unknown = response.body;
      try {
        body = JSON.parse(response.body);
      } catch {
        // not JSON: shown as text
      }
      showResponse(response.status, body);
    } finally {
      steppingUp = false;
      byId('step-up-confirm').textContent = "Confirm it's you";
    }
  });
});

byId('step-up-cancel').addEventListener('click', () => {
  if (steppingUp) void api.cancelSignIn();
  byId('step-up').hidden = true;
});


async function loadSettings(): Promise<void> {
  try {
    const s = await api.getSettings();
    loaded = s;
    byId<HTMLInputElement>('set-issuer').value = s.issuer ?? '';
    byId<HTMLInputElement>('set-client-id').value = s.client_id ?? '';
    byId<HTMLInputElement>('set-scopes').value = (s.scopes ?? []).join(' ');
    byId<HTMLInputElement>('set-params').value = Object.entries(s.params ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    byId<HTMLInputElement>('set-api-url').value = s.api_url ?? '';
  } catch {
    // No settings yet.
  }
}

byId<HTMLFormElement>('settings-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = (id: string) => byId<HTMLInputElement>(id).value.trim();
  const params: Record<string, string> = {};
  for (const pair of value('set-params').split('&').filter(Boolean)) {
    const [k, ...rest] = pair.split('=');
    params[k.trim()] = rest.join('=');
  }
  const settings: Settings = {
    ...loaded,
    issuer: value('set-issuer') || null,
    client_id: value('set-client-id') || null,
    scopes: value('set-scopes') ? value('set-scopes').split(/\s+/) : null,
    params,
    api_url: value('set-api-url') || null,
  };
  void act(async () => {
    await api.saveSettings(settings);
    loaded = settings;
    byId('settings-note').textContent = 'Saved.';
  });
});

// The first-run screen: a provider preset, its fields, and the settings they make.
let preset: Preset = presetById('dev');
let values: Values = initialValues(preset);

function choose(next: Preset, start: Values = initialValues(next)): void {
  preset = next;
  values = start;
  renderProviders(preset.id);
  renderFirstRun(preset, values);
}

byId('providers').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  if (input.name === 'provider') choose(presetById(input.value));
});

byId('first-run-fields').addEventListener('input', (e) => {
  const input = e.target as HTMLInputElement;
  values[input.name as FieldId] = input.value;
  showIssuerPreview(preset, values);
  // The message was about what was there before.
  const error = document.getElementById(`fr-${input.name}-error`);
  if (error) error.hidden = true;
  input.removeAttribute('aria-invalid');
});

byId<HTMLFormElement>('first-run-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void saveFirstRun();
});

async function saveFirstRun(): Promise<void> {
  showError(null);
  const built = buildSettings(preset, values, loaded);
  if (!built.ok) {
    showFieldErrors(preset, built.errors, null);
    return;
  }
  showFieldErrors(preset, {}, null);
  const save = byId<HTMLButtonElement>('first-run-save');
  save.disabled = true;
  try {
    await api.saveSettings(built.settings);
    loaded = built.settings;
    await loadSettings(); // the settings panel, for later edits
  } catch (e) {
    // Rust refused: its message, next to the field it names when this form has it.
    const err = e as LatchkeyError;
    const message = sentence(err.message);
    const field = err.kind === 'configuration' ? settingToField(preset, err.field) : null;
    showFieldErrors(preset, field ? { [field]: message } : {}, field ? null : message);
  } finally {
    save.disabled = false;
  }
}

// The account switcher: every account's name and state; the window shows one at a time, its own
// status and timeline. Adding one starts signed out (its own PIN, its own vault).
let unsubscribe: (() => void) | null = null;

async function renderAccounts(): Promise<void> {
  const all = await api.accounts().catch(() => [] as Status[]);
  const bar = byId('accounts-bar');
  // Shown once something is configured (a single-account user sees one entry and "Add account").
  bar.hidden = !all.some((a) => a.configured);
  const select = byId<HTMLSelectElement>('account-select');
  select.replaceChildren(
    ...all.map((a) => {
      const option = document.createElement('option');
      option.value = a.account;
      const who = a.session?.display_name ?? a.session?.subject;
      const state = (a.session?.state ?? 'signed_out').replace('_', ' ');
      option.textContent = `${a.account}${who ? ` — ${who}` : ''} (${state})`;
      option.selected = a.account === activeAccount();
      return option;
    }),
  );
}

async function showAccount(name: string): Promise<void> {
  unsubscribe?.();
  setAccount(name);
  byId('timeline-events').replaceChildren();
  showApiResult(null);
  showSignOutNote(null);
  unsubscribe = await subscribe(appendTimeline, (s) => {
    update(s);
    void renderAccounts();
  });
  update(await api.status());
  await renderAccounts();
}

byId('account-select').addEventListener('change', (e) => {
  void act(() => showAccount((e.target as HTMLSelectElement).value));
});

byId('add-account').addEventListener('click', () => {
  byId('add-account-form').hidden = false;
  byId<HTMLInputElement>('add-account-name').focus();
});

byId('add-account-cancel').addEventListener('click', () => {
  byId('add-account-form').hidden = true;
});

byId<HTMLFormElement>('add-account-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = byId<HTMLInputElement>('add-account-name');
  const name = input.value.trim();
  void act(async () => {
    await api.addAccount(name);
    input.value = '';
    byId('add-account-form').hidden = true;
    await showAccount(name);
  });
});

async function main(): Promise<void> {
  choose(preset);
  // The account shown last time, while it still exists.
  restoreAccount((await api.accounts().catch(() => [] as Status[])).map((a) => a.account));
  unsubscribe = await subscribe(appendTimeline, (s) => {
    update(s);
    void renderAccounts();
  });
  await loadSettings();
  // Settings that were saved but can't be used: start from them as "Other provider".
  if (loaded.issuer || loaded.client_id) {
    const other = presetById('other');
    choose(other, {
      ...initialValues(other),
      issuer: loaded.issuer ?? '',
      client_id: loaded.client_id ?? '',
      scopes: (loaded.scopes ?? []).join(' ') || initialValues(other).scopes,
      params: Object.entries(loaded.params ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join('&'),
      api_url: loaded.api_url ?? '',
    });
  }
  update(await api.status());
  await renderAccounts();
  void offerRunningDevIdp();
}

/** A dev IdP running on this machine (`npm run dev-idp`, its default port): offered filled in. */
async function offerRunningDevIdp(): Promise<void> {
  if (loaded.issuer || loaded.client_id) return;
  const issuer = await api.findDevIdp().catch(() => null);
  if (!issuer || preset.id !== 'dev' || values.issuer) return;
  const dev = presetById('dev');
  choose(dev, { ...initialValues(dev), issuer });
  const found = byId('first-run-found');
  found.textContent = `A dev IdP is running on this computer at ${issuer}: its issuer is filled in.`;
  found.hidden = false;
}

void main();
