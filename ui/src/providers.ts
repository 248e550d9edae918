// The first-run screen's provider presets: data, and pure functions from what a person typed to
// the settings `save_settings` takes. Nothing here is fetched: the documentation links are shown
// as text, and the issuer is built from the fields exactly as the README's recipes say.
//
// The checks here are the obvious ones (required, https, no spaces), worded for the field they sit
// next to; Rust (latchkey-core `PartialConfig::finish`) still validates everything and its
// refusal is shown next to the field it names (`settingToField`).
import type { Settings } from './ipc/types';

export type ProviderId = 'dev' | 'keycloak' | 'okta' | 'auth0' | 'entra' | 'other';

/** A field of the first-run form. `issuer` is also where an issuer built from other fields is
 * previewed (and where a refusal of it is shown). */
export type FieldId =
  | 'issuer'
  | 'host'
  | 'realm'
  | 'org'
  | 'auth_server'
  | 'tenant'
  | 'client_id'
  | 'scopes'
  | 'params'
  | 'api_url';

/** How a field's value is checked. */
type Check = 'url' | 'host' | 'name' | 'scopes' | 'params' | 'client_id' | 'entra_tenant';

export interface Field {
  id: FieldId;
  label: string;
  /** The field as a sentence names it ("Enter the realm."). */
  noun: string;
  check: Check;
  optional?: boolean;
  placeholder?: string;
  /** Pre-filled value. */
  initial?: string;
  hint?: string;
}

export interface Preset {
  id: ProviderId;
  name: string;
  /** What to register at the provider, in a sentence or two. */
  register: string;
  /** The provider's page on registering a native / public client (shown, never fetched). */
  docs: string | null;
  fields: Field[];
  /** Extra authorization parameters this provider needs. */
  params: Record<string, string>;
  /** The issuer from the fields, or null while they are incomplete. */
  issuer: (v: Values) => string | null;
  /** The API URL to use when the field is left empty. */
  defaultApiUrl?: (issuer: string) => string;
}

export type Values = Partial<Record<FieldId, string>>;
export type FieldErrors = Partial<Record<FieldId, string>>;

const DEFAULT_SCOPES = 'openid profile offline_access';

const clientId = (initial?: string): Field => ({
  id: 'client_id',
  label: 'Client ID',
  noun: 'the client ID',
  check: 'client_id',
  initial,
  hint: 'The ID the provider gave this app when you registered it.',
});

const scopes = (hint: string): Field => ({
  id: 'scopes',
  label: 'Scopes',
  noun: 'the scopes',
  check: 'scopes',
  initial: DEFAULT_SCOPES,
  hint,
});

const apiUrl = (hint = 'Optional: a protected API for "Call API".'): Field => ({
  id: 'api_url',
  label: 'API URL',
  noun: 'the API URL',
  check: 'url',
  optional: true,
  placeholder: 'https://api.example.com/me',
  hint,
});

const v = (values: Values, id: FieldId): string => (values[id] ?? '').trim();

/** A host as typed: tolerates a pasted `https://` and a trailing slash. */
function host(raw: string): string {
  return raw
    .trim()
    .replace(/^https:\/\//i, '')
    .replace(/\/+$/, '');
}

/** A domain, with `suffix` added when only the first label was typed ("dev-123" → "dev-123.okta.com"). */
function domain(raw: string, suffix: string): string {
  const h = host(raw);
  return h.includes('.') ? h : `${h}${suffix}`;
}

export const PRESETS: Preset[] = [
  {
    id: 'dev',
    name: 'Dev IdP',
    register:
      'The bundled development provider: run "npm run dev-idp" in the project (it listens on 127.0.0.1:9440 and is then filled in here), or copy the issuer it prints. Its client "latchkey-native" is already registered.',
    docs: null,
    fields: [
      {
        id: 'issuer',
        label: 'Issuer URL',
        noun: 'the issuer URL',
        check: 'url',
        placeholder: 'http://127.0.0.1:PORT',
        hint: 'As printed by "npm run dev-idp", like http://127.0.0.1:9440.',
      },
      clientId('latchkey-native'),
      scopes('The dev IdP grants offline_access (a refresh token) after consent, which Latchkey asks for.'),
      apiUrl('Optional: empty uses the dev IdP\'s demo API (ISSUER/api/hello).'),
    ],
    params: { prompt: 'consent' },
    issuer: (values) => v(values, 'issuer').replace(/\/+$/, '') || null,
    defaultApiUrl: (issuer) => `${issuer}/api/hello`,
  },
  {
    id: 'keycloak',
    name: 'Keycloak',
    register:
      'Create an OpenID Connect client with "Client authentication" off (public), "Standard flow" on and PKCE method S256, and the valid redirect URI http://127.0.0.1/*.',
    docs: 'https://www.keycloak.org/docs/latest/server_admin/index.html#_oidc_clients',
    fields: [
      {
        id: 'host',
        label: 'Keycloak host',
        noun: 'the Keycloak host name',
        check: 'host',
        placeholder: 'sso.example.com',
        hint: 'The server\'s host name (with :port if it has one).',
      },
      { id: 'realm', label: 'Realm', noun: 'the realm', check: 'name', placeholder: 'myrealm' },
      clientId(),
      scopes('offline_access keeps you signed in across restarts (the realm must allow it).'),
      apiUrl(),
    ],
    params: {},
    issuer: (values) =>
      v(values, 'host') && v(values, 'realm') ? `https://${host(v(values, 'host'))}/realms/${v(values, 'realm')}` : null,
  },
  {
    id: 'okta',
    name: 'Okta',
    register:
      'Create an app integration of type "Native Application" with Authorization Code and Refresh Token grants, and the sign-in redirect URI http://127.0.0.1/callback.',
    docs: 'https://developer.okta.com/docs/guides/implement-grant-type/authcodepkce/main/',
    fields: [
      {
        id: 'org',
        label: 'Okta domain',
        noun: 'your Okta domain',
        check: 'host',
        placeholder: 'dev-123456.okta.com',
        hint: 'Your org\'s domain; "dev-123456" alone means dev-123456.okta.com.',
      },
      {
        id: 'auth_server',
        label: 'Authorization server',
        noun: 'the authorization server',
        check: 'name',
        initial: 'default',
        hint: 'The custom authorization server\'s ID; "default" unless you made another.',
      },
      clientId(),
      scopes('offline_access is needed for a refresh token.'),
      apiUrl(),
    ],
    params: {},
    issuer: (values) =>
      v(values, 'org') && v(values, 'auth_server')
        ? `https://${domain(v(values, 'org'), '.okta.com')}/oauth2/${v(values, 'auth_server')}`
        : null,
  },
  {
    id: 'auth0',
    name: 'Auth0',
    register:
      'Create an application of type "Native" and add http://127.0.0.1/callback to its Allowed Callback URLs; turn on refresh-token rotation if you want it.',
    docs: 'https://auth0.com/docs/get-started/auth0-overview/create-applications/native-apps',
    fields: [
      {
        id: 'tenant',
        label: 'Tenant domain',
        noun: 'your tenant domain',
        check: 'host',
        placeholder: 'my-tenant.eu.auth0.com',
        hint: 'Shown in the application\'s settings as "Domain"; "my-tenant" alone means my-tenant.auth0.com.',
      },
      clientId(),
      scopes('offline_access is needed for a refresh token.'),
      apiUrl(),
    ],
    params: {},
    // The trailing slash is part of Auth0's issuer: metadata and tokens are compared with it.
    issuer: (values) => (v(values, 'tenant') ? `https://${domain(v(values, 'tenant'), '.auth0.com')}/` : null),
  },
  {
    id: 'entra',
    name: 'Microsoft Entra ID',
    register:
      'Register an application, add the platform "Mobile and desktop applications" with the redirect URI http://127.0.0.1/callback, and allow public client flows.',
    docs: 'https://learn.microsoft.com/en-us/entra/identity-platform/scenario-desktop-app-registration',
    fields: [
      {
        id: 'tenant',
        label: 'Tenant ID',
        noun: 'the tenant ID',
        check: 'entra_tenant',
        placeholder: '00000000-0000-0000-0000-000000000000',
        hint: 'The "Directory (tenant) ID" on the app registration\'s overview (or a domain like contoso.onmicrosoft.com).',
      },
      clientId(),
      scopes('offline_access is needed for a refresh token.'),
      apiUrl(),
    ],
    params: {},
    issuer: (values) => (v(values, 'tenant') ? `https://login.microsoftonline.com/${v(values, 'tenant')}/v2.0` : null),
  },
  {
    id: 'other',
    name: 'Other provider',
    register:
      'Register a native / public client with the authorization-code grant, PKCE S256, the refresh-token grant, and the redirect URI http://127.0.0.1/callback (any port).',
    docs: null,
    fields: [
      {
        id: 'issuer',
        label: 'Issuer URL',
        noun: 'the issuer URL',
        check: 'url',
        placeholder: 'https://login.example.com',
        hint: 'Exactly as the provider\'s metadata names it (a trailing slash matters).',
      },
      clientId(),
      scopes('Space-separated; offline_access is the usual way to get a refresh token.'),
      {
        id: 'params',
        label: 'Extra parameters',
        noun: 'the extra parameters',
        check: 'params',
        optional: true,
        placeholder: 'prompt=consent',
        hint: 'Optional: name=value pairs separated by &.',
      },
      apiUrl(),
    ],
    params: {},
    issuer: (values) => v(values, 'issuer') || null,
  },
];

export function presetById(id: string): Preset {
  return PRESETS.find((p) => p.id === id) ?? PRESETS[PRESETS.length - 1];
}

/** The values a preset's form starts with. */
export function initialValues(preset: Preset): Values {
  const values: Values = {};
  for (const f of preset.fields) values[f.id] = f.initial ?? '';
  return values;
}

const ENTRA_MULTI_TENANT = ['common', 'organizations', 'consumers'];

/** Parses "a=b&c=d" into parameters; null if a pair is not name=value. */
export function parseParams(raw: string): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (const pair of raw.split('&').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) return null;
    params[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return params;
}

function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]';
}

/** The message for one field's value, or null when it looks right. */
export function checkField(field: Field, raw: string): string | null {
  const value = raw.trim();
  if (!value) return field.optional ? null : `Enter ${field.noun}.`;
  const spaced = /\s/.test(value);
  switch (field.check) {
    case 'url': {
      if (spaced) return 'Remove the spaces: a web address has none.';
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return 'This is not a web address: it should look like https://login.example.com.';
      }
      if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
        return 'Use https://. Plain http:// is only for a provider on this computer (127.0.0.1).';
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        return 'The address must start with https://.';
      }
      if (url.username || url.password) return 'Leave out the user name and password.';
      if (field.id === 'issuer' && (url.search || url.hash || value.includes('?') || value.includes('#'))) {
        return 'An issuer has no ? or # part: copy it up to the path only.';
      }
      return null;
    }
    case 'host': {
      if (/^http:\/\//i.test(value)) return 'The provider must be reached over https: enter only the host name.';
      const h = host(value);
      if (spaced) return 'Remove the spaces: a host name has none.';
      if (h.includes('/')) return 'Enter only the host name (like sso.example.com), without a path.';
      if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(h)) {
        return 'This is not a host name: use letters, digits, dots and hyphens, like sso.example.com.';
      }
      return null;
    }
    case 'name':
      if (spaced) return `Remove the spaces: ${field.noun} has none.`;
      if (/[/?#%\\]/.test(value)) return `${capitalise(field.noun)} can't contain /, ?, #, % or \\.`;
      return null;
    case 'entra_tenant':
      if (spaced) return 'Remove the spaces: a tenant ID has none.';
      if (ENTRA_MULTI_TENANT.includes(value.toLowerCase())) {
        return `Use your directory's own tenant ID: "${value}" signs in accounts from many tenants, whose tokens name no single issuer.`;
      }
      if (!/^[A-Za-z0-9.-]+$/.test(value)) {
        return 'A tenant ID looks like 00000000-0000-0000-0000-000000000000 or contoso.onmicrosoft.com.';
      }
      return null;
    case 'client_id':
      if (spaced) return 'Remove the spaces: a client ID has none.';
      return null;
    case 'scopes': {
      // RFC 6749 §3.3: printable ASCII without space, " or \.
      const bad = value.split(/\s+/).find((s) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s));
      if (bad) return `"${bad}" is not a scope: scopes are separated by spaces and have no quotes or backslashes.`;
      return null;
    }
    case 'params':
      if (parseParams(value) === null) return 'Write each parameter as name=value, separated by &.';
      return null;
  }
}

export type Built = { ok: true; settings: Settings } | { ok: false; errors: FieldErrors };

/**
 * The settings for what was typed, or the message for each field that is obviously wrong. The
 * settings are `base` (what is stored, for the fields this form doesn't show) with this
 * provider's issuer, client, scopes, parameters and API URL.
 */
export function buildSettings(preset: Preset, values: Values, base: Settings = {}): Built {
  const errors: FieldErrors = {};
  for (const field of preset.fields) {
    const message = checkField(field, values[field.id] ?? '');
    if (message) errors[field.id] = message;
  }
  const issuer = preset.issuer(values);
  if (Object.keys(errors).length === 0 && issuer && !preset.fields.some((f) => f.id === 'issuer')) {
    // Built from fields that look right: check the result too.
    const message = checkField({ id: 'issuer', label: 'Issuer', noun: 'the issuer', check: 'url' }, issuer);
    if (message) errors.issuer = message;
  }
  if (Object.keys(errors).length > 0 || !issuer) return { ok: false, errors };

  const scopes = v(values, 'scopes').split(/\s+/).filter(Boolean);
  const params = { ...preset.params, ...(parseParams(v(values, 'params')) ?? {}) };
  const api = v(values, 'api_url') || (preset.defaultApiUrl ? preset.defaultApiUrl(issuer) : '');
  return {
    ok: true,
    settings: {
      ...base,
      issuer,
      client_id: v(values, 'client_id'),
      scopes,
      params,
      api_url: api || null,
    },
  };
}

/**
 * Where on this preset's form a setting Rust refused belongs (`LatchkeyError.field`, a settings-file
 * key): null when nowhere but the form as a whole.
 */
export function settingToField(preset: Preset, setting: string | null | undefined): FieldId | null {
  if (!setting) return null;
  const has = (id: FieldId) => preset.fields.some((f) => f.id === id);
  if (setting === 'issuer') return 'issuer'; // a field, or the preview of the one built
  if (setting === 'client_id' || setting === 'scopes' || setting === 'api_url') return has(setting) ? setting : null;
  if (setting === 'params' || setting.startsWith('params.')) return has('params') ? 'params' : null;
  return null;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Rust's message as a sentence: it starts in lower case, to follow other words in the CLI. */
export function sentence(message: string): string {
  const text = capitalise(message.trim());
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
