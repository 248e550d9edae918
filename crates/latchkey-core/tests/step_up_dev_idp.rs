//! Step-up (RFC 9470) and pushed authorization requests (RFC 9126) against the real bundled IdP:
//! its /api/step-up demands urn:latchkey:mfa, its login issues that level when asked and the
//! login driver gives the second factor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::{Error, Redirect, SecretStore, SessionState, SystemBrowser};
use latchkey_testkit::browsers::{browser_command, login_driver_with};
use latchkey_testkit::fake_idp::stored_rt;
use latchkey_testkit::{login_driver, DevIdp, Recorder};
use url::Url;

fn step_up_api(idp: &DevIdp) -> Url {
    format!("{}/api/step-up", idp.issuer).parse().unwrap()
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn a_step_up_takes_one_reauthorization_and_the_retried_call_succeeds_with_the_binding_kept() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let before = store.load().unwrap().unwrap();
    let thumbprint = |m: &latchkey_core::dpop::DpopKeyMaterial| {
        latchkey_core::dpop::DpopKey::from_material(m)
            .unwrap()
            .thumbprint()
            .to_owned()
    };
    let key_before = thumbprint(before.dpop_key.as_ref().expect("DPoP-bound"));

    let err = session.get(&step_up_api(&idp)).await.unwrap_err();
    let Error::StepUpRequired(asked) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(asked.acr_values, ["urn:latchkey:mfa"]);
    assert_eq!(session.status().state, SessionState::SignedIn);

    let browser = Recorder::wrapping(login_driver("alice"));
    let response = session
        .step_up_pending(&browser, Redirect::Loopback)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let body = json(&response.body);
    assert_eq!(body["acr"], "urn:latchkey:mfa");
    assert_eq!(body["token_type"], "DPoP", "still a bound token");
    assert_eq!(browser.opened().len(), 1, "exactly one re-authorization");
    assert_eq!(
        browser.param("acr_values"),
        None,
        "pushed: nothing in the URL"
    );
    assert_eq!(idp.stats().await["step_up_demands"], 1);

    let after = store.load().unwrap().unwrap();
    assert_ne!(
        after.refresh_token.secret(),
        before.refresh_token.secret(),
        "the store holds the step-up's refresh token"
    );
    assert_eq!(
        thumbprint(after.dpop_key.as_ref().unwrap()),
        key_before,
        "the same DPoP key"
    );
    assert_eq!(after.subject, before.subject);
    assert!(session.pending_step_up().is_none());

    // A refresh keeps the level (the refresh token carries it).
    session.refresh().await.unwrap();
    assert_eq!(session.get(&step_up_api(&idp)).await.unwrap().status, 200);
    assert_eq!(idp.stats().await["step_up_demands"], 1);
}

#[tokio::test]
async fn a_cancelled_step_up_leaves_the_session_working_for_other_calls() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let rt = stored_rt(&*store);
    assert!(matches!(
        session.get(&step_up_api(&idp)).await,
        Err(Error::StepUpRequired(_))
    ));
    let err = session
        .step_up_pending(&login_driver_with("alice", "deny"), Redirect::Loopback)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*store), rt, "the store is as it was");
    let hello = session.get(&idp.api.parse().unwrap()).await.unwrap();
    assert_eq!(hello.status, 200);
    assert!(session.pending_step_up().is_some(), "still offered");
}

#[tokio::test]
async fn a_provider_answer_at_a_lower_level_is_refused_and_the_session_kept() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let rt = stored_rt(&*store);
    assert!(session.get(&step_up_api(&idp)).await.is_err());
    // No second factor: the IdP signs in at urn:latchkey:pwd although mfa was asked.
    let no_otp = SystemBrowser::with_browser_var(Some(format!(
        "env LATCHKEY_DEV_OTP= {}",
        browser_command("alice", "login")
    )));
    let err = session
        .step_up_pending(&no_otp, Redirect::Loopback)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::StepUpUnsatisfied(why) if why.contains("urn:latchkey:pwd")),
        "{err:?}"
    );
    assert_eq!(err.kind(), latchkey_core::ErrorKind::Protocol);
    assert_eq!(
        stored_rt(&*store),
        rt,
        "the lower-level tokens were not taken"
    );
    assert_eq!(
        session.get(&idp.api.parse().unwrap()).await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn a_step_up_as_another_user_is_refused() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let rt = stored_rt(&*store);
    assert!(session.get(&step_up_api(&idp)).await.is_err());
    let err = session
        .step_up_pending(&login_driver("bob"), Redirect::Loopback)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StepUpOtherUser), "{err:?}");
    assert_eq!(stored_rt(&*store), rt);
    assert_eq!(
        idp.stats().await["revocations"]["refresh_tokens"],
        1,
        "the other user's refresh token was revoked"
    );
    assert_eq!(session.status().subject.as_deref(), Some("alice"));
}

#[tokio::test]
async fn with_par_required_sign_in_and_step_up_go_through_pushes_and_the_url_carries_no_request() {
    let idp = DevIdp::start(&[("DEV_IDP_PAR", "required")]);
    let (session, _store) = idp.session();
    let browser = Recorder::wrapping(login_driver("alice"));
    session.sign_in(&browser).await.unwrap();
    assert!(session.get(&step_up_api(&idp)).await.is_err());
    session
        .step_up_pending(&browser, Redirect::Loopback)
        .await
        .unwrap();
    let opened = browser.opened();
    assert_eq!(opened.len(), 2);
    for url in &opened {
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(keys, ["client_id", "request_uri"], "{}", url.path());
        for secret in ["scope", "code_challenge", "state", "nonce", "acr_values"] {
            assert!(!keys.iter().any(|k| k == secret));
        }
    }
}

#[tokio::test]
async fn par_off_in_the_configuration_still_pushes_when_the_provider_requires_it() {
    let idp = DevIdp::start(&[("DEV_IDP_PAR", "required")]);
    let mut config = idp.config();
    config.par = latchkey_core::config::ParPolicy::Off;
    let (session, _store) = idp.session_with(config);
    let browser = Recorder::wrapping(login_driver("alice"));
    session.sign_in(&browser).await.unwrap();
    assert!(browser.param("request_uri").is_some());
    assert!(browser.param("state").is_none());
}
