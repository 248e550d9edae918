// The app's own shapes (its commands in src-tauri/src/commands.rs); the plugin's come from
// tauri-plugin-latchkey-api. contract.gen.ts holds samples serialized by the Rust types; the
// typecheck proves these types match them.

export interface ApiResult {
  status: number;
  body: unknown;
}

/** The settings file's fields (latchkey-core's `PartialConfig`); unset ones are null. */
export interface Settings {
  issuer?: string | null;
  client_id?: string | null;
  scopes?: string[] | null;
  params?: Record<string, string>;
  redirect_path?: string | null;
  redirect_ports?: number[] | null;
  http_timeout_secs?: number | null;
  login_timeout_secs?: number | null;
  max_response_bytes?: number | null;
  api_url?: string | null;
  /** DPoP-bound tokens: 'auto' (the default: when the provider offers them), 'required', 'off'. */
  dpop?: 'auto' | 'required' | 'off' | null;
  /** Pushed authorization requests (RFC 9126): 'auto' (the default: when the provider lists the
   * endpoint), 'required', 'off'. The window may raise it, never lower it. */
  par?: 'auto' | 'required' | 'off' | null;
}
