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
    assert_eq!(err.field(), Some("issuer"));
    assert_eq!(
        err.to_string(),
        "the issuer (the provider's URL) is required"
    );
}

#[test]
fn missing_settings_are_described_without_naming_a_front_end() {
    let mut p = base();
    p.client_id = None;
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("client_id"));
    let text = err.to_string();
    assert_eq!(
        text,
        "the client ID (this app's ID at the provider) is required"
    );
    // How to set it (a flag, a variable, a settings form) is the front end's to add.
    assert!(
        !text.contains("--") && !text.contains("LATCHKEY_"),
        "{text}"
    );
    assert_eq!(
        ConfigError::missing("api_url").to_string(),
        "the API URL (the protected API to call) is required"
    );
}

#[test]
fn plain_http_issuer_is_refused_off_loopback_and_allowed_on_it() {
    let mut p = base();
    p.issuer = Some("http://login.example.com".into());
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("issuer"));
    assert!(
        err.to_string().starts_with("the issuer must use https"),
        "{err}"
    );

    let mut p = base();
    p.issuer = Some("http://127.0.0.1:9000".into());
    assert!(p.finish().is_ok());
}

#[test]
fn reserved_authorization_parameters_cannot_be_configured() {
    let mut p = base();
    p.params.insert("state".into(), "fixed".into());
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("params.state"));
    assert_eq!(
        err.to_string(),
        "the sign-in parameter \"state\" is set by Latchkey itself and cannot be configured"
    );
}

#[test]
fn max_age_must_be_seconds() {
    let mut p = base();
    p.params.insert("max_age".into(), "an hour".into());
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("params.max_age"));
    assert!(
        err.to_string()
            .starts_with("the sign-in parameter \"max_age\" must be a whole number of seconds"),
        "{err}"
    );
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
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("scopes"));
    assert!(err.to_string().starts_with("the scopes include"), "{err}");
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
    assert_eq!(err.field(), Some("LATCHKEY_HTTP_TIMEOUT_SECS"));
    assert_eq!(
        err.to_string(),
        "the environment variable LATCHKEY_HTTP_TIMEOUT_SECS must be a whole number, got \"ten\""
    );
}

#[test]
fn a_malformed_parameter_in_the_environment_names_the_variable() {
    let err = PartialConfig::from_env([("LATCHKEY_PARAMS".to_string(), "prompt".to_string())])
        .unwrap_err();
    assert_eq!(err.field(), Some("LATCHKEY_PARAMS"));
    assert!(
        err.to_string()
            .starts_with("the environment variable LATCHKEY_PARAMS must hold key=value pairs"),
        "{err}"
    );
}

#[test]
fn out_of_range_timeouts_are_rejected() {
    let mut p = base();
    p.http_timeout_secs = Some(0);
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("http_timeout_secs"));
    assert_eq!(
        err.to_string(),
        "the HTTP timeout must be between 1 and 300 seconds"
    );
}

#[test]
fn file_problems_name_the_file_and_no_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");
    let err = PartialConfig::from_file(&missing).unwrap_err();
    assert_eq!(err.field(), None);
    assert!(
        err.to_string()
            .starts_with("cannot read the configuration file"),
        "{err}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "issuer = 1").unwrap();
    let err = PartialConfig::from_file(&bad).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    assert_eq!(err.field(), None);
}

#[test]
fn settings_survive_a_save_and_a_failed_save_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    let mut p = base();
    p.params.insert("prompt".into(), "consent".into());
    p.save_to_file(&path).unwrap();
    assert_eq!(PartialConfig::from_file(&path).unwrap(), p);

    // A directory where the file should go: the rename fails.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("inside"), "x").unwrap();
    let err = base().save_to_file(&blocked).unwrap_err();
    assert!(matches!(err, ConfigError::Write { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot save the configuration file"),
        "{err}"
    );
}
