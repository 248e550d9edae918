//! The authorization request's parameters and the callback checks.

use super::*;
use crate::discovery::ServerMetadata;
use crate::redirect::parse_callback;
use openidconnect::core::CoreJsonWebKeySet;

pub(crate) const ISSUER: &str = "https://idp.example.com";

pub(crate) fn provider(iss_supported: bool) -> (Provider, Config) {
    let metadata: ServerMetadata = serde_json::from_value(serde_json::json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://idp.example.com/auth",
        "token_endpoint": "https://idp.example.com/token",
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": iss_supported,
    }))
    .unwrap();
    let mut config = Config::new(ISSUER, "native-app").unwrap();
    config.extra_params = vec![("prompt".into(), "consent".into())];
    let p = Provider::from_metadata(metadata, &config, CoreJsonWebKeySet::new(vec![])).unwrap();
    (p, config)
}

fn pending(iss_supported: bool) -> PendingAuthorization {
    let (p, c) = provider(iss_supported);
    PendingAuthorization::new(
        &p,
        &c,
        Url::parse("http://127.0.0.1:4567/callback").unwrap(),
    )
}

fn query(p: &PendingAuthorization, key: &str) -> Option<String> {
    p.url()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn callback(p: &PendingAuthorization, query: &str) -> Result<CallbackOutcome, CallbackRejection> {
    let state = p.state.secret();
    let target = format!("/callback?{}", query.replace("STATE", state));
    p.check(&parse_callback("GET", &target, "/callback").unwrap())
}

#[test]
fn the_authorization_url_uses_pkce_s256_state_nonce_and_the_extra_params() {
    let p = pending(true);
    assert_eq!(query(&p, "code_challenge_method").as_deref(), Some("S256"));
    let challenge = query(&p, "code_challenge").unwrap();
    assert_eq!(challenge.len(), 43);
    assert_eq!(p.verifier.secret().len(), 43, "32 random octets, base64url");
    assert_eq!(query(&p, "state").unwrap().len(), 22);
    assert!(query(&p, "nonce").is_some());
    assert_eq!(query(&p, "prompt").as_deref(), Some("consent"));
    assert_eq!(query(&p, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&p, "redirect_uri").as_deref(),
        Some("http://127.0.0.1:4567/callback")
    );
    let scope = query(&p, "scope").unwrap();
    assert!(scope.split(' ').any(|s| s == "openid") && scope.contains("offline_access"));
    assert!(query(&p, "client_secret").is_none());
}

#[test]
fn every_request_gets_fresh_one_time_values() {
    let a = pending(true);
    let b = pending(true);
    assert_ne!(query(&a, "state"), query(&b, "state"));
    assert_ne!(query(&a, "nonce"), query(&b, "nonce"));
    assert_ne!(query(&a, "code_challenge"), query(&b, "code_challenge"));
}

#[test]
fn a_callback_with_our_state_and_issuer_yields_the_code() {
    let p = pending(true);
    let iss = "https%3A%2F%2Fidp.example.com";
    match callback(&p, &format!("code=abc&state=STATE&iss={iss}")).unwrap() {
        CallbackOutcome::Code(code) => assert_eq!(code.secret(), "abc"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn state_is_checked_before_anything_else() {
    let p = pending(true);
    // Wrong state with an error and a foreign issuer: the state verdict comes first.
    assert_eq!(
        callback(&p, "error=access_denied&state=other&iss=https%3A%2F%2Fevil").unwrap_err(),
        CallbackRejection::StateMismatch
    );
    assert_eq!(
        callback(&p, "code=abc").unwrap_err(),
        CallbackRejection::StateMismatch
    );
}

#[test]
fn an_iss_naming_another_server_is_a_mix_up_and_rejected() {
    let p = pending(false);
    assert_eq!(
        callback(&p, "code=abc&state=STATE&iss=https%3A%2F%2Fevil.example").unwrap_err(),
        CallbackRejection::IssuerMismatch
    );
}

#[test]
fn a_missing_iss_is_rejected_only_when_the_server_promises_it() {
    assert_eq!(
        callback(&pending(true), "code=abc&state=STATE").unwrap_err(),
        CallbackRejection::MissingIssuer
    );
    assert!(matches!(
        callback(&pending(false), "code=abc&state=STATE"),
        Ok(CallbackOutcome::Code(_))
    ));
}

#[test]
fn an_error_response_with_our_state_is_reported_not_rejected() {
    let p = pending(true);
    let outcome = callback(
        &p,
        "error=access_denied&error_description=user+said+no&state=STATE&iss=https%3A%2F%2Fidp.example.com",
    )
    .unwrap();
    match outcome {
        CallbackOutcome::Error { error, description } => {
            assert_eq!(error, "access_denied");
            assert_eq!(description.as_deref(), Some("user said no"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_success_response_without_a_code_is_rejected() {
    let p = pending(false);
    assert_eq!(
        callback(&p, "state=STATE&code=").unwrap_err(),
        CallbackRejection::MissingCode
    );
}

#[test]
fn a_step_up_request_sends_acr_values_max_age_and_prompt_login_in_place_of_the_configured_ones() {
    let (p, mut c) = provider(true);
    c.extra_params = vec![
        ("prompt".into(), "consent none".into()),
        ("acr_values".into(), "urn:low".into()),
        ("max_age".into(), "86400".into()),
    ];
    let acr = vec!["urn:mfa".to_owned(), "urn:hw".to_owned()];
    let pending = PendingAuthorization::with_options(
        &p,
        &c,
        Url::parse("http://127.0.0.1:4567/callback").unwrap(),
        &AuthOptions {
            dpop_jkt: Some("jkt"),
            acr_values: &acr,
            max_age: Some(60),
            prompt_login: true,
        },
    );
    let all = |key: &str| -> Vec<String> {
        pending
            .url()
            .query_pairs()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    assert_eq!(all("prompt"), ["login consent"]);
    assert_eq!(all("acr_values"), ["urn:mfa urn:hw"]);
    assert_eq!(all("max_age"), ["60"]);
    assert_eq!(all("dpop_jkt"), ["jkt"]);
    assert_eq!(all("code_challenge_method"), ["S256"]);
    // Without a step-up the configured ones go out unchanged.
    let plain = PendingAuthorization::new(
        &p,
        &c,
        Url::parse("http://127.0.0.1:4567/callback").unwrap(),
    );
    assert_eq!(query(&plain, "acr_values").as_deref(), Some("urn:low"));
    assert_eq!(query(&plain, "prompt").as_deref(), Some("consent none"));
}

#[test]
fn a_pushed_request_opens_with_only_client_id_and_request_uri() {
    let mut p = pending(true);
    let params = p.parameters();
    assert!(params.iter().any(|(k, _)| k == "code_challenge"));
    assert!(params.iter().any(|(k, _)| k == "state"));
    let endpoint = Url::parse("https://idp.example.com/auth").unwrap();
    p.use_request_uri(
        &endpoint,
        "native-app",
        "urn:ietf:params:oauth:request_uri:abc",
    );
    let keys: Vec<String> = p.url().query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["client_id", "request_uri"]);
    assert_eq!(p.url().path(), "/auth");
    // The callback is still judged against the request's own state.
    let state = p.state.secret().clone();
    let target = format!("/callback?code=c&state={state}&iss=https%3A%2F%2Fidp.example.com");
    assert!(matches!(
        p.check(&parse_callback("GET", &target, "/callback").unwrap()),
        Ok(CallbackOutcome::Code(_))
    ));
}

#[test]
fn debug_of_a_pending_authorization_shows_no_secret() {
    let p = pending(true);
    let printed = format!("{p:?}");
    for secret in [p.state.secret(), p.nonce.secret(), p.verifier.secret()] {
        assert!(!printed.contains(secret.as_str()), "{printed}");
    }
}
