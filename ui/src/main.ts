// Wires user actions to IPC calls and renders whatever Rust sends back.
import { api, subscribe, type AppView, type IpcError, type Settings } from './ipc';
import { appendTimeline, render, showApiResult, showError, showSignOutNote, signOutText } from './render';

let view: AppView | null = null;
let waiting = false;

function update(next: AppView): void {
  view = next;
  render(next, waiting);
}

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** Runs a command; the state it changes arrives as a pushed view, errors are shown here. */
async function act(action: () => Promise<void>): Promise<void> {
  showError(null);
  try {
    await action();
  } catch (e) {
    const err = e as IpcError;
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
    await act(() => api.signIn(pin));
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
    showSignOutNote(signOutText(await api.signOut(everywhere), everywhere));
  });
}

byId('sign-out').addEventListener('click', () =>
  signOut(byId<HTMLInputElement>('sign-out-everywhere').checked),
);
// Locked: the ID token for the end-session request is in the vault, so only a local sign-out.
byId('forget').addEventListener('click', () => signOut(false));

byId('call-api').addEventListener('click', () => {
  void act(async () => {
    const result = await api.callApi();
    showApiResult(`HTTP ${result.status}\n${JSON.stringify(result.body, null, 2)}`);
  });
});

// The settings as loaded: the form edits some fields; the others (redirect ports, timeouts) are
// kept as they were when it saves.
let loaded: Settings = {};

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

async function main(): Promise<void> {
  await subscribe(appendTimeline, update);
  update(await api.view());
  await loadSettings();
}

void main();
