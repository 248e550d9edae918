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

#[test]
fn without_redirect_ports_the_listener_takes_an_ephemeral_port() {
    assert!(base().finish().unwrap().redirect_ports.is_empty());
    let mut p = base();
    p.redirect_ports = Some(vec![]);
    assert!(p.finish().unwrap().redirect_ports.is_empty());
}

#[test]
fn redirect_ports_are_read_from_the_file_in_order() {
    let file: PartialConfig = toml::from_str(
        r#"
        issuer = "https://login.example.com"
        client_id = "app"
        redirect_ports = [8765, 8766, 8767]
        "#,
    )
    .unwrap();
    assert_eq!(file.finish().unwrap().redirect_ports, [8765, 8766, 8767]);
}

#[test]
fn a_redirect_port_outside_the_port_range_in_the_file_is_a_parse_error_naming_the_key() {
    let err = toml::from_str::<PartialConfig>("redirect_ports = [70000]").unwrap_err();
    assert!(err.to_string().contains("redirect_ports"), "{err}");
    let err = toml::from_str::<PartialConfig>("redirect_ports = 8765").unwrap_err();
    assert!(err.to_string().contains("redirect_ports"), "{err}");
}

#[test]
fn redirect_ports_in_the_environment_may_be_separated_by_commas_or_spaces() {
    for value in ["8765,8766", "8765 8766", " 8765, 8766 "] {
        let env =
            PartialConfig::from_env([("LATCHKEY_REDIRECT_PORTS".to_string(), value.to_string())])
                .unwrap();
        assert_eq!(env.redirect_ports, Some(vec![8765, 8766]), "{value:?}");
    }
}

#[test]
fn an_empty_redirect_ports_variable_overrides_the_file_with_an_ephemeral_port() {
    let file = PartialConfig {
        redirect_ports: Some(vec![8765]),
        ..base()
    };
    let env =
        PartialConfig::from_env([("LATCHKEY_REDIRECT_PORTS".to_string(), String::new())]).unwrap();
    let c = file.merge(env).finish().unwrap();
    assert!(c.redirect_ports.is_empty());
}

#[test]
fn a_later_layer_replaces_the_redirect_ports_whole() {
    let file = PartialConfig {
        redirect_ports: Some(vec![8765, 8766]),
        ..base()
    };
    let env =
        PartialConfig::from_env([("LATCHKEY_REDIRECT_PORTS".to_string(), "9000".to_string())])
            .unwrap();
    assert_eq!(file.merge(env).finish().unwrap().redirect_ports, [9000]);
}

#[test]
fn a_malformed_redirect_port_in_the_environment_names_the_variable() {
    for value in ["8765;8766", "http", "70000", "-1"] {
        let err =
            PartialConfig::from_env([("LATCHKEY_REDIRECT_PORTS".to_string(), value.to_string())])
                .unwrap_err();
        assert_eq!(err.field(), Some("LATCHKEY_REDIRECT_PORTS"));
        assert!(
            err.to_string().starts_with(
                "the environment variable LATCHKEY_REDIRECT_PORTS must hold port numbers from 1 \
                 to 65535 separated by commas or spaces, got"
            ),
            "{err}"
        );
    }
}

#[test]
fn port_zero_is_refused_in_the_redirect_ports() {
    let mut p = base();
    p.redirect_ports = Some(vec![8765, 0]);
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("redirect_ports"));
    assert_eq!(
        err.to_string(),
        "the redirect ports must be port numbers from 1 to 65535 (to let the system choose a \
         port, leave the setting out)"
    );
}

#[test]
fn a_redirect_port_listed_twice_is_refused() {
    let mut p = base();
    p.redirect_ports = Some(vec![8765, 8766, 8765]);
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("redirect_ports"));
    assert_eq!(
        err.to_string(),
        "the redirect ports list port 8765 more than once"
    );
}

#[test]
fn too_many_redirect_ports_are_refused() {
    let mut p = base();
    let at_most = validate::MAX_REDIRECT_PORTS as u16;
    p.redirect_ports = Some((8000..8000 + at_most).collect());
    assert!(p.clone().finish().is_ok());
    p.redirect_ports = Some((8000..=8000 + at_most).collect());
    let err = p.finish().unwrap_err();
    assert_eq!(err.field(), Some("redirect_ports"));
    assert_eq!(
        err.to_string(),
        "the redirect ports must list at most 10 ports"
    );
}

#[test]
fn redirect_ports_survive_a_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    let mut p = base();
    p.redirect_ports = Some(vec![8765, 8766]);
    p.params.insert("prompt".into(), "consent".into());
    p.save_to_file(&path).unwrap();
    assert_eq!(PartialConfig::from_file(&path).unwrap(), p);
}

#[test]
fn dpop_defaults_to_auto_and_is_read_from_the_file_and_the_environment() {
    assert_eq!(base().finish().unwrap().dpop, DpopPolicy::Auto);
    let file: PartialConfig = toml::from_str(
        r#"
        issuer = "https://login.example.com"
        client_id = "app"
        dpop = "required"
        "#,
    )
    .unwrap();
    assert_eq!(file.clone().finish().unwrap().dpop, DpopPolicy::Required);
    let env = PartialConfig::from_env([("LATCHKEY_DPOP".to_string(), "off".to_string())]).unwrap();
    assert_eq!(file.merge(env).finish().unwrap().dpop, DpopPolicy::Off);
    assert!(toml::from_str::<PartialConfig>("dpop = \"sometimes\"").is_err());
    let err =
        PartialConfig::from_env([("LATCHKEY_DPOP".to_string(), "yes".to_string())]).unwrap_err();
    assert_eq!(err.field(), Some("LATCHKEY_DPOP"));
}

#[test]
fn every_parameter_the_authorization_request_sets_or_replaces_is_reserved() {
    // What authorize.rs and oauth2 set (PKCE, state, nonce, redirect, DPoP's `dpop_jkt`), what
    // would replace the whole request (JAR's `request`, PAR's or JAR's `request_uri`), and the
    // response shape: none may come from configuration (a WebView may write the settings).
    for key in [
        "client_id",
        "response_type",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "dpop_jkt",
        "request",
        "request_uri",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    ] {
        let mut p = base();
        p.params.insert(key.into(), "x".into());
        let err = p.finish().unwrap_err();
        assert_eq!(err.field(), Some(format!("params.{key}").as_str()), "{key}");
    }
    // Names differing only in case are the same parameter to some servers.
    let mut p = base();
    p.params.insert("DPoP_JKT".into(), "x".into());
    assert!(p.finish().is_err());
}

#[test]
fn dpop_can_be_raised_but_never_lowered_by_a_settings_change() {
    use DpopPolicy::*;
    for (current, requested, allowed) in [
        (Auto, Auto, true),
        (Auto, Required, true),
        (Off, Auto, true),
        (Off, Off, true),
        (Required, Required, true),
        (Auto, Off, false),
        (Required, Auto, false),
        (Required, Off, false),
    ] {
        let result = check_dpop_not_lowered(current, requested);
        assert_eq!(result.is_ok(), allowed, "{current:?} -> {requested:?}");
        if let Err(e) = result {
            assert_eq!(e.field(), Some("dpop"));
        }
    }
}

#[test]
fn par_defaults_to_auto_and_is_read_from_the_file_and_the_environment() {
    use super::ParPolicy;
    assert_eq!(base().finish().unwrap().par, ParPolicy::Auto);
    let file: PartialConfig = toml::from_str(
        r#"
        issuer = "https://login.example.com"
        client_id = "app"
        par = "required"
        "#,
    )
    .unwrap();
    assert_eq!(file.clone().finish().unwrap().par, ParPolicy::Required);
    let env = PartialConfig::from_env([("LATCHKEY_PAR".to_string(), "off".to_string())]).unwrap();
    assert_eq!(file.merge(env).finish().unwrap().par, ParPolicy::Off);
    assert!(toml::from_str::<PartialConfig>("par = \"sometimes\"").is_err());
    let err =
        PartialConfig::from_env([("LATCHKEY_PAR".to_string(), "yes".to_string())]).unwrap_err();
    assert_eq!(err.field(), Some("LATCHKEY_PAR"));
}

#[test]
fn par_can_be_raised_but_never_lowered_by_a_settings_change() {
    use super::{check_par_not_lowered, ParPolicy::*};
    for (current, requested, allowed) in [
        (Auto, Auto, true),
        (Auto, Required, true),
        (Off, Auto, true),
        (Required, Required, true),
        (Auto, Off, false),
        (Required, Auto, false),
        (Required, Off, false),
    ] {
        let result = check_par_not_lowered(current, requested);
        assert_eq!(result.is_ok(), allowed, "{current:?} -> {requested:?}");
        if let Err(e) = result {
            assert_eq!(e.field(), Some("par"));
        }
    }
}
