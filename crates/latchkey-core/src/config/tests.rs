use std::time::Duration;

use super::*;

fn base() -> PartialConfig {
    PartialConfig {
        issuer: Some("https://login.example.com".into()),
        client_id: Some("app".into()),
        ..Default::default()
    }
}

#[test]
fn defaults_request_openid_profile_and_offline_access() {
    let c = base().finish().unwrap();
    assert_eq!(c.scopes, ["openid", "profile", "offline_access"]);
    assert_eq!(c.redirect_path, "/callback");
    assert!(c.is_openid());
}

#[test]
fn a_missing_issuer_is_an_error_naming_the_field() {
    let err = PartialConfig::default().finish().unwrap_err();
    assert!(err.to_string().contains("`issuer` is required"), "{err}");
}

#[test]
fn plain_http_issuer_is_refused_off_loopback_and_allowed_on_it() {
    let mut p = base();
    p.issuer = Some("http://login.example.com".into());
    let err = p.finish().unwrap_err();
    assert!(err.to_string().contains("`issuer` must use https"), "{err}");

    let mut p = base();
    p.issuer = Some("http://127.0.0.1:9000".into());
    assert!(p.finish().is_ok());
}

#[test]
fn reserved_authorization_parameters_cannot_be_configured() {
    let mut p = base();
    p.params.insert("state".into(), "fixed".into());
    let err = p.finish().unwrap_err();
    assert!(err.to_string().contains("`params.state`"), "{err}");
}

#[test]
fn max_age_must_be_seconds() {
    let mut p = base();
    p.params.insert("max_age".into(), "an hour".into());
    let err = p.finish().unwrap_err();
    assert!(err.to_string().contains("`params.max_age`"), "{err}");
    let mut p = base();
    p.params.insert("max_age".into(), "300".into());
    assert_eq!(
        p.finish().unwrap().max_age(),
        Some(Duration::from_secs(300))
    );
}

#[test]
fn an_invalid_scope_token_is_rejected() {
    let mut p = base();
    p.scopes = Some(vec!["openid".into(), "bad\"scope".into()]);
    assert!(p.finish().unwrap_err().to_string().contains("`scopes`"));
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let file: PartialConfig = toml::from_str(
        r#"
        issuer = "https://file.example.com"
        client_id = "from-file"
        scopes = ["openid"]
        [params]
        prompt = "login"
        audience = "api"
        "#,
    )
    .unwrap();
    let env = PartialConfig::from_env([
        ("LATCHKEY_CLIENT_ID".to_string(), "from-env".to_string()),
        ("LATCHKEY_PARAMS".to_string(), "prompt=consent".to_string()),
        ("UNRELATED".to_string(), "x".to_string()),
    ])
    .unwrap();
    let flags = PartialConfig {
        scopes: Some(vec!["openid".into(), "email".into()]),
        ..Default::default()
    };
    let c = file.merge(env).merge(flags).finish().unwrap();
    assert_eq!(c.issuer, "https://file.example.com");
    assert_eq!(c.client_id, "from-env");
    assert_eq!(c.scopes, ["openid", "email"]);
    assert_eq!(
        c.extra_params,
        [
            ("audience".to_string(), "api".to_string()),
            ("prompt".to_string(), "consent".to_string())
        ]
    );
}

#[test]
fn an_unknown_key_in_the_file_is_an_error_not_silently_ignored() {
    let err = toml::from_str::<PartialConfig>("isuer = \"https://x\"").unwrap_err();
    assert!(err.to_string().contains("isuer"), "{err}");
}

#[test]
fn a_non_numeric_timeout_in_the_environment_names_the_variable() {
    let err =
        PartialConfig::from_env([("LATCHKEY_HTTP_TIMEOUT_SECS".to_string(), "ten".to_string())])
            .unwrap_err();
    assert!(
        err.to_string().contains("LATCHKEY_HTTP_TIMEOUT_SECS"),
        "{err}"
    );
}

#[test]
fn out_of_range_timeouts_are_rejected() {
    let mut p = base();
    p.http_timeout_secs = Some(0);
    assert!(p
        .finish()
        .unwrap_err()
        .to_string()
        .contains("http_timeout_secs"));
}
