// The shapes that cross IPC, mirroring the plugin's Rust (src/models.rs, src/error.rs) and
// latchkey-core (SessionStatus, SessionEvent). None of them holds a token. contract.gen.ts holds
// samples of each, serialized by the Rust types; the typecheck proves these types match them.

export type SessionState = 'signed_out' | 'locked' | 'signed_in' | 'reauth_required';

export interface ReauthReason {
  reason:
    | 'refresh_token_rejected'
    | 'no_refresh_token'
    | 'access_token_rejected'
    | 'ended_elsewhere'
    | 'stored_session_erased'
    | 'dpop_key_missing'
    | 'dpop_proof_rejected';
  detail?: string | null;
}

export interface SessionStatus {
  state: SessionState;
  issuer: string;
  subject: string | null;
  display_name: string | null;
  scopes: string[];
  has_refresh_token: boolean;
  /** The tokens are bound to the session's DPoP key (RFC 9449); the key itself never leaves the engine. */
  key_bound: boolean;
  access_token_expires_in_secs: number | null;
  access_token_expires_at: number | null;
  access_token_lifetime_secs: number | null;
  next_refresh_in_secs: number | null;
  refresh_count: number;
  rotation_count: number;
  last_refresh_at: number | null;
  offline: boolean;
  reauth_reason: ReauthReason | null;
}

export type UnlockMethod = 'pin' | 'biometric' | 'biometric_gate';

export type BiometricStatus = 'not_offered' | 'off' | 'ready' | 'needs_pin' | 'set_up_again';

/** Everything a UI renders about one account (pushed after every change). */
export interface Status {
  /** The account ("default" unless the app names accounts). */
  account: string;
  configured: boolean;
  config_error: string | null;
  session: SessionStatus | null;
  unlock_method: UnlockMethod;
  unlock_label: string;
  /** Whether an `api_url` is configured (for a host command that calls it). */
  has_api: boolean;
  /** What biometric unlock can do now; `not_offered` where the platform has none. */
  biometric: BiometricStatus;
  /** The word for it ("fingerprint"), where there is one. */
  biometric_label: string | null;
}

export type RefreshTrigger = 'scheduled' | 'on_demand' | 'unauthorized' | 'forced';

export type SessionEvent =
  | { event: 'signed_in'; status: SessionStatus }
  | { event: 'refreshed'; trigger: RefreshTrigger; rotated: boolean; status: SessionStatus }
  | { event: 'refresh_failed'; trigger: RefreshTrigger; kind: RefreshFailureKind; message: string; retry_in_secs: number | null }
  | { event: 'store_failed'; message: string }
  | { event: 'session_ended'; reason: ReauthReason }
  | { event: 'locked' }
  | { event: 'signed_out' };

/** What to do about an error: one name per situation. */
export type ErrorKind =
  | 'configuration'
  | 'cancelled'
  | 'reauth_required'
  | 'not_signed_in'
  | 'transient'
  | 'locked'
  | 'protocol'
  | 'wrong_state'
  | 'internal'
  | 'origin_not_allowed'
  | 'unknown_account'
  | 'step_up_required';

/** The engine's classification of a failed background refresh (timeline only). */
export type RefreshFailureKind =
  | 'configuration'
  | 'cancelled'
  | 'reauth_required'
  | 'not_signed_in'
  | 'transient'
  | 'locked'
  | 'protocol'
  | 'wrong_state'
  | 'internal'
  | 'step_up_required';

/** What an API asked for when it answered `step_up_required` (RFC 9470): the acceptable
 * authentication levels and/or how recent the sign-in must be; null when nothing is pending. */
export type StepUp = { acr_values: string[]; max_age: number | null } | null;

/** What every function rejects with. */
export interface LatchkeyError {
  kind: ErrorKind;
  message: string;
  /** For a settings problem, the setting at fault as its settings-file key (`issuer`,
   * `client_id`, `scopes`, `params.max_age`, `api_url`); null otherwise. */
  field?: string | null;
}

/** An authorised `fetch`'s answer. */
export interface FetchResponse {
  status: number;
  /** `status` is 2xx. */
  ok: boolean;
  /** The headers script may see (today `content-type`, when present). */
  headers: Record<string, string>;
  /** The body as text. */
  body: string;
}

/** What a `subscribe` channel carries. */
export type Push = { status: Status } | { event: SessionEvent };

export type Revocation =
  | { revocation: 'revoked' }
  | { revocation: 'not_supported' }
  | { revocation: 'nothing_to_revoke' }
  | { revocation: 'failed'; detail: string };

/** What sign-out did: revocation, and whether the IdP's end-session page was opened. */
export type SignOutResult = Revocation & { end_session_opened: boolean };
