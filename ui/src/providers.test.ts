import { describe, expect, test } from 'vitest';

import {
  PRESETS,
  buildSettings,
  checkField,
  initialValues,
  presetById,
  sentence,
  settingToField,
  type Preset,
  type Values,
} from './providers';

function build(id: string, fields: Values) {
  const preset = presetById(id);
  return buildSettings(preset, { ...initialValues(preset), ...fields });
}

function settingsOf(id: string, fields: Values) {
  const built = build(id, fields);
  if (!built.ok) throw new Error(`refused: ${JSON.stringify(built.errors)}`);
  return built.settings;
}

function errorsOf(id: string, fields: Values) {
  const built = build(id, fields);
  if (built.ok) throw new Error('accepted');
  return built.errors;
}

describe('each preset builds the issuer from its fields', () => {
  test('Dev IdP: the issuer as printed, client latchkey-native, prompt=consent, its demo API', () => {
    const s = settingsOf('dev', { issuer: 'http://127.0.0.1:41234' });
    expect(s.issuer).toBe('http://127.0.0.1:41234');
    expect(s.client_id).toBe('latchkey-native');
    expect(s.params).toEqual({ prompt: 'consent' });
    expect(s.scopes).toEqual(['openid', 'profile', 'offline_access']);
    expect(s.api_url).toBe('http://127.0.0.1:41234/api/hello');
    // A pasted trailing slash is not part of the dev IdP's issuer.
    expect(settingsOf('dev', { issuer: 'http://127.0.0.1:41234/' }).issuer).toBe('http://127.0.0.1:41234');
  });

  test('Keycloak: https://HOST/realms/REALM', () => {
    const s = settingsOf('keycloak', { host: 'sso.example.com', realm: 'acme', client_id: 'latchkey' });
    expect(s.issuer).toBe('https://sso.example.com/realms/acme');
    expect(s.scopes).toContain('offline_access');
    expect(s.params).toEqual({});
    // A pasted https:// and trailing slash, and a port.
    expect(settingsOf('keycloak', { host: 'https://sso.example.com:8443/', realm: 'acme', client_id: 'x' }).issuer).toBe(
      'https://sso.example.com:8443/realms/acme',
    );
  });

  test('Okta: https://ORG.okta.com/oauth2/default, or another authorization server', () => {
    expect(settingsOf('okta', { org: 'dev-123456.okta.com', client_id: '0oa1' }).issuer).toBe(
      'https://dev-123456.okta.com/oauth2/default',
    );
    expect(settingsOf('okta', { org: 'dev-123456', client_id: '0oa1' }).issuer).toBe(
      'https://dev-123456.okta.com/oauth2/default',
    );
    expect(settingsOf('okta', { org: 'dev-1.okta.com', auth_server: 'aus9x', client_id: '0oa1' }).issuer).toBe(
      'https://dev-1.okta.com/oauth2/aus9x',
    );
  });

  test('Auth0: https://TENANT.auth0.com/ with its trailing slash', () => {
    expect(settingsOf('auth0', { tenant: 'acme.eu.auth0.com', client_id: 'abc' }).issuer).toBe('https://acme.eu.auth0.com/');
    expect(settingsOf('auth0', { tenant: 'acme', client_id: 'abc' }).issuer).toBe('https://acme.auth0.com/');
  });

  test('Microsoft Entra ID: https://login.microsoftonline.com/TENANT/v2.0', () => {
    const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    expect(settingsOf('entra', { tenant, client_id: 'c' }).issuer).toBe(`https://login.microsoftonline.com/${tenant}/v2.0`);
  });

  test('Other provider: the plain fields, as typed', () => {
    const s = settingsOf('other', {
      issuer: 'https://login.example.com/',
      client_id: 'my-app',
      scopes: 'openid  email offline_access',
      params: 'prompt=consent&max_age=300',
      api_url: 'https://api.example.com/me',
    });
    expect(s).toEqual({
      issuer: 'https://login.example.com/',
      client_id: 'my-app',
      scopes: ['openid', 'email', 'offline_access'],
      params: { prompt: 'consent', max_age: '300' },
      api_url: 'https://api.example.com/me',
    });
  });

  test('the settings not on the form (redirect ports, timeouts) are kept', () => {
    const preset = presetById('other');
    const built = buildSettings(
      preset,
      { ...initialValues(preset), issuer: 'https://login.example.com', client_id: 'a' },
      { redirect_ports: [8765], http_timeout_secs: 20, issuer: 'https://old.example.com' },
    );
    expect(built.ok && built.settings).toMatchObject({ redirect_ports: [8765], http_timeout_secs: 20, issuer: 'https://login.example.com' });
  });

  test('every preset has a client ID and scopes with offline_access, and an https docs link if any', () => {
    for (const preset of PRESETS) {
      const ids = preset.fields.map((f) => f.id);
      expect(ids).toContain('client_id');
      expect(initialValues(preset).scopes).toContain('offline_access');
      if (preset.docs) expect(preset.docs).toMatch(/^https:\/\//);
    }
  });
});

describe('bad input gets a message next to its field, in words', () => {
  test('required fields', () => {
    expect(errorsOf('keycloak', {})).toEqual({
      host: 'Enter the Keycloak host name.',
      realm: 'Enter the realm.',
      client_id: 'Enter the client ID.',
    });
    expect(errorsOf('dev', { client_id: '' })).toEqual({ issuer: 'Enter the issuer URL.', client_id: 'Enter the client ID.' });
    expect(errorsOf('okta', { org: 'dev-1', auth_server: '', client_id: 'x' })).toEqual({
      auth_server: 'Enter the authorization server.',
    });
  });

  test('https, except for a provider on this computer', () => {
    expect(errorsOf('other', { issuer: 'http://login.example.com', client_id: 'x' }).issuer).toBe(
      'Use https://. Plain http:// is only for a provider on this computer (127.0.0.1).',
    );
    expect(errorsOf('keycloak', { host: 'http://sso.example.com', realm: 'r', client_id: 'x' }).host).toBe(
      'The provider must be reached over https: enter only the host name.',
    );
    expect(build('dev', { issuer: 'http://127.0.0.1:3000' }).ok).toBe(true);
    expect(build('dev', { issuer: 'http://[::1]:3000' }).ok).toBe(true);
    expect(errorsOf('other', { issuer: 'login.example.com', client_id: 'x' }).issuer).toBe(
      'This is not a web address: it should look like https://login.example.com.',
    );
    expect(errorsOf('other', { issuer: 'https://x.example.com', client_id: 'x', api_url: 'http://api.example.com' }).api_url).toMatch(
      /^Use https:/,
    );
  });

  test('no spaces', () => {
    expect(errorsOf('other', { issuer: 'https://login.example .com', client_id: 'my app' })).toEqual({
      issuer: 'Remove the spaces: a web address has none.',
      client_id: 'Remove the spaces: a client ID has none.',
    });
    expect(errorsOf('keycloak', { host: 'sso example.com', realm: 'my realm', client_id: 'x' })).toEqual({
      host: 'Remove the spaces: a host name has none.',
      realm: 'Remove the spaces: the realm has none.',
    });
    expect(errorsOf('entra', { tenant: 'a b', client_id: 'x' }).tenant).toBe('Remove the spaces: a tenant ID has none.');
  });

  test('what each field is, beyond the obvious', () => {
    expect(errorsOf('keycloak', { host: 'sso.example.com/auth', realm: 'r', client_id: 'x' }).host).toBe(
      'Enter only the host name (like sso.example.com), without a path.',
    );
    expect(errorsOf('keycloak', { host: 'sso.example.com', realm: 'a/b', client_id: 'x' }).realm).toBe(
      "The realm can't contain /, ?, #, % or \\.",
    );
    expect(errorsOf('entra', { tenant: 'common', client_id: 'x' }).tenant).toMatch(/^Use your directory's own tenant ID/);
    expect(errorsOf('other', { issuer: 'https://login.example.com/?x=1', client_id: 'x' }).issuer).toBe(
      'An issuer has no ? or # part: copy it up to the path only.',
    );
    expect(errorsOf('other', { issuer: 'https://a.example.com', client_id: 'x', scopes: 'openid "email"' }).scopes).toBe(
      '""email"" is not a scope: scopes are separated by spaces and have no quotes or backslashes.',
    );
    expect(errorsOf('other', { issuer: 'https://a.example.com', client_id: 'x', scopes: '' }).scopes).toBe('Enter the scopes.');
    expect(errorsOf('other', { issuer: 'https://a.example.com', client_id: 'x', params: 'prompt' }).params).toBe(
      'Write each parameter as name=value, separated by &.',
    );
  });

  test('no message names a command-line flag or an environment variable', () => {
    const inputs = ['', ' ', 'a b', 'http://x.example.com', 'x/y', 'common', '"q"', 'nope'];
    for (const preset of PRESETS) {
      for (const field of preset.fields) {
        for (const input of inputs) {
          const message = checkField(field, input) ?? '';
          expect(message).not.toMatch(/--|LATCHKEY_/);
        }
      }
    }
  });
});

describe("Rust's refusals", () => {
  const keycloak: Preset = presetById('keycloak');
  const other: Preset = presetById('other');

  test('go next to the field they name, or to the form as a whole', () => {
    expect(settingToField(keycloak, 'issuer')).toBe('issuer'); // shown under the built issuer
    expect(settingToField(keycloak, 'client_id')).toBe('client_id');
    expect(settingToField(keycloak, 'params.state')).toBeNull(); // no such field here
    expect(settingToField(other, 'params.state')).toBe('params');
    expect(settingToField(other, 'redirect_ports')).toBeNull();
    expect(settingToField(other, null)).toBeNull();
  });

  test('are shown as sentences', () => {
    expect(sentence('the issuer must use https')).toBe('The issuer must use https.');
    expect(sentence('the client ID (this app\'s ID at the provider) is required')).toBe(
      "The client ID (this app's ID at the provider) is required.",
    );
  });
});
