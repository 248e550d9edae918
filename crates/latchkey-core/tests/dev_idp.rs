//! Scenarios against the real bundled IdP (panva's oidc-provider), signing in through the loopback
//! listener with the headless login driver as the browser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey_core::{
    Error, ErrorKind, ReauthReason, RefreshTrigger, RevocationOutcome, SecretStore, Session,
    SessionEvent, SessionState, SignOutOptions,
};
use latchkey_testkit::fake_idp::stored_rt;
use latchkey_testkit::{
    fresh_access_tokens_at_once, login_driver, login_driver_with, query_param, DevIdp, Recorder,
};

#[tokio::test]
async fn signing_in_as_alice_gives_tokens_a_stored_refresh_token_and_her_profile() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    let status = session.sign_in(&login_driver("alice")).await.unwrap();

    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(status.subject.as_deref(), Some("alice"));
    assert_eq!(status.display_name.as_deref(), Some("Alice Example"));
    assert!(status.has_refresh_token);
    assert!(status.scopes.iter().any(|s| s == "offline_access"));
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.subject.as_deref(), Some("alice"));
    assert_eq!(stored.issuer, idp.issuer);

    let profile = session.userinfo().await.unwrap();
    assert_eq!(profile["name"], "Alice Example");
    assert_eq!(profile["sub"], "alice");

    let api = session.get(&idp.api.parse().unwrap()).await.unwrap();
    assert_eq!(api.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&api.body).unwrap();
    assert_eq!(body["sub"], "alice");
}

#[tokio::test]
async fn denying_consent_at_the_idp_is_a_cancelled_sign_in() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    let err = session
        .sign_in(&login_driver_with("alice", "deny"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err:?}");
    assert_eq!(session.status().state, SessionState::SignedOut);
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token_and_stores_the_new_one() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let before = stored_rt(&*store).unwrap();
    let old_access = session.fresh_access_token().await.unwrap();

    let mut events = session.subscribe();
    let status = session.refresh().await.unwrap();
    assert_eq!(status.rotation_count, 1);
    let after = stored_rt(&*store).unwrap();
    assert_ne!(before, after, "the rotated refresh token must be persisted");
    match events.recv().await.unwrap() {
        SessionEvent::Refreshed {
            trigger, rotated, ..
        } => {
            assert_eq!(trigger, RefreshTrigger::Forced);
            assert!(rotated);
        }
        other => panic!("{other:?}"),
    }
    let new_access = session.fresh_access_token().await.unwrap();
    assert_ne!(old_access.secret(), new_access.secret());
    assert_eq!(session.userinfo().await.unwrap()["sub"], "alice");
}

#[tokio::test]
async fn without_rotation_the_same_refresh_token_is_kept() {
    let idp = DevIdp::start(&[("DEV_IDP_ROTATE", "false")]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let before = stored_rt(&*store).unwrap();
    let status = session.refresh().await.unwrap();
    assert_eq!(status.refresh_count, 1);
    assert_eq!(status.rotation_count, 0);
    assert_eq!(before, stored_rt(&*store).unwrap());
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_ends_the_session_and_wipes_the_store() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let stale = store.load().unwrap().unwrap();
    session.refresh().await.unwrap();

    // A second client replays the already-rotated refresh token: the server detects reuse,
    // answers invalid_grant and revokes the whole grant.
    let (replay, replay_store) = idp.resumed_copy(&stale).await;
    let err = replay.refresh().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ReauthRequired(ReauthReason::RefreshTokenRejected(_))
        ),
        "{err:?}"
    );
    assert!(
        replay_store.load().unwrap().is_none(),
        "invalid_grant wipes the store"
    );
    assert_eq!(replay.status().state, SessionState::ReauthRequired);

    // The legitimate session's grant died with it: its next refresh ends it too.
    let err = session.refresh().await.unwrap_err();
    assert!(err.requires_reauthentication(), "{err:?}");
    assert!(store.load().unwrap().is_none());
    assert_eq!(session.status().state, SessionState::ReauthRequired);
    assert!(session
        .fresh_access_token()
        .await
        .unwrap_err()
        .requires_reauthentication());
}

#[tokio::test]
async fn without_prompt_consent_the_server_issues_no_refresh_token_and_the_session_copes() {
    let idp = DevIdp::start(&[
        ("DEV_IDP_ACCESS_TOKEN_TTL", "2"),
        ("DEV_IDP_CLOCK_TOLERANCE", "0"),
    ]);
    let (session, store) = idp.session_with(idp.config_with(&[]));
    let status = session.sign_in(&login_driver("alice")).await.unwrap();
    assert!(!status.has_refresh_token);
    assert!(
        store.load().unwrap().is_none(),
        "nothing to store without a refresh token"
    );
    assert_eq!(status.next_refresh_in_secs, None);
    // The access token works while it lasts.
    assert_eq!(
        session.get(&idp.api.parse().unwrap()).await.unwrap().status,
        200
    );
    // A forced refresh is refused without ending the still-valid session.
    assert!(session
        .refresh()
        .await
        .unwrap_err()
        .requires_reauthentication());
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn a_server_that_never_issues_refresh_tokens_is_handled_like_one_that_declines() {
    let idp = DevIdp::start(&[("DEV_IDP_REFRESH_POLICY", "never")]);
    let (session, store) = idp.session();
    let status = session.sign_in(&login_driver("alice")).await.unwrap();
    assert!(!status.has_refresh_token);
    assert!(store.load().unwrap().is_none());
    assert_eq!(session.userinfo().await.unwrap()["sub"], "alice");
}

#[tokio::test]
async fn the_scheduler_refreshes_a_five_second_token_ahead_of_its_callers() {
    let idp = DevIdp::start(&[
        ("DEV_IDP_ACCESS_TOKEN_TTL", "5"),
        ("DEV_IDP_CLOCK_TOLERANCE", "0"),
    ]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let first = session.fresh_access_token().await.unwrap();
    let rt_before = stored_rt(&*store).unwrap();
    let mut events = session.subscribe();
    let _refresher = session.spawn_auto_refresh();

    // Wait for the scheduler's event (bounded; no fixed sleep).
    let event = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let SessionEvent::Refreshed { trigger, .. } = events.recv().await.unwrap() {
                return trigger;
            }
        }
    })
    .await
    .expect("a scheduled refresh within 15 s");
    assert_eq!(event, RefreshTrigger::Scheduled);
    // The IdP granted that refresh: nobody had asked for a token since the sign-in. (When it is
    // due — 4 s into a 5-second token — is the paused-clock test in tokens.rs; nothing here
    // reads the wall clock.)
    assert_eq!(idp.stats().await["grants"]["refresh_token"], 1);
    assert_ne!(
        first.secret(),
        session.fresh_access_token().await.unwrap().secret()
    );
    assert_ne!(rt_before, stored_rt(&*store).unwrap());
    assert_eq!(
        session.get(&idp.api.parse().unwrap()).await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn sign_out_revokes_the_grant_and_forgets_everything_locally() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let stored = store.load().unwrap().unwrap();
    let access = session.fresh_access_token().await.unwrap();

    let report = session.sign_out(SignOutOptions::default()).await.unwrap();
    assert_eq!(report.revocation, RevocationOutcome::Revoked);
    // The IdP's own count: one live refresh token destroyed by a revocation (the window tests
    // read this counter for their "revoked" steps).
    assert_eq!(idp.stats().await["revocations"]["refresh_tokens"], 1);
    assert!(store.load().unwrap().is_none());
    assert_eq!(session.status().state, SessionState::SignedOut);
    assert_eq!(
        session.fresh_access_token().await.unwrap_err().kind(),
        ErrorKind::NotSignedIn
    );

    // At the server, the refresh token is dead...
    let (replay, _) = idp.resumed_copy(&stored).await;
    assert!(replay
        .refresh()
        .await
        .unwrap_err()
        .requires_reauthentication());
    // ... and so is the access token of that grant.
    let response = reqwest::Client::new()
        .get(&idp.api)
        .bearer_auth(access.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_resumed_session_refreshes_silently_without_a_browser() {
    let idp = DevIdp::start(&[]);
    let (first, store) = idp.session();
    first.sign_in(&login_driver("alice")).await.unwrap();
    drop(first);

    // A new session over the same store: no browser, one refresh, signed in.
    let next = Session::new(idp.config(), store.clone()).unwrap();
    let status = next.resume().await.unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(status.display_name.as_deref(), Some("Alice Example"));
    assert_eq!(next.userinfo().await.unwrap()["sub"], "alice");
    assert_eq!(next.status().refresh_count, 1);
}

#[tokio::test]
async fn a_hundred_concurrent_callers_on_an_expired_token_share_one_refresh() {
    let idp = DevIdp::start(&[]);
    let (first, store) = idp.session();
    first.sign_in(&login_driver("alice")).await.unwrap();
    // A resumed session has no access token yet: every caller needs a refresh.
    let session = Session::new(idp.config(), store.clone()).unwrap();
    session.resume().await.unwrap();
    let mut tokens: Vec<String> = fresh_access_tokens_at_once(&session, 100)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "all callers got the same token");
    // With rotation and reuse detection, a second refresh with the old token would have
    // revoked the grant: one refresh happened, and the session still works.
    assert_eq!(session.status().refresh_count, 1);
    assert_eq!(session.userinfo().await.unwrap()["sub"], "alice");
}

#[tokio::test]
async fn signing_out_everywhere_opens_the_idps_end_session_page_for_this_client_and_user() {
    let idp = DevIdp::start(&[]);
    let (session, _store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();

    let browser = Recorder::new();
    let report = session
        .sign_out(SignOutOptions {
            end_session_in: Some(&browser),
        })
        .await
        .unwrap();
    assert_eq!(report.revocation, RevocationOutcome::Revoked);
    assert!(report.end_session_opened);

    let opened = browser.opened();
    assert_eq!(opened.len(), 1, "{opened:?}");
    let url = &opened[0];
    assert!(
        url.as_str()
            .starts_with(&format!("{}/session/end", idp.issuer)),
        "{url}"
    );
    let param = |k: &str| query_param(url, k);
    assert_eq!(param("client_id").as_deref(), Some("latchkey-native"));
    assert_eq!(
        param("id_token_hint"),
        None,
        "the ID token never goes to the browser"
    );
    assert_eq!(param("logout_hint").as_deref(), Some("alice"));
    // The IdP accepts it: its confirmation page, not an error.
    let page = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("logout"), "{html}");
}

#[tokio::test]
async fn with_max_age_the_idp_sends_auth_time_and_the_sign_in_checks_it() {
    let idp = DevIdp::start(&[]);
    let (session, _store) = idp.session_with(idp.config_with(&[("max_age", "300")]));
    let status = session.sign_in(&login_driver("alice")).await.unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
}

#[tokio::test]
async fn a_mobile_style_sign_in_through_an_app_link_ignores_foreign_links_and_completes() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    let redirect_uri: url::Url = "dev.latchkey.app:/callback".parse().unwrap();
    let (sender, redirect) = latchkey_core::app_link(redirect_uri).unwrap();
    // Another app opens links with our scheme before the real one arrives.
    let before = [
        "dev.latchkey.app:/callback?code=stolen&state=guessed",
        "dev.latchkey.app:/elsewhere?code=x",
        "dev.latchkey.app:/callback?error=access_denied&state=guessed",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let tab = latchkey_testkit::AppLinkDriver {
        user: "alice".into(),
        sender,
        before,
    };
    let status = session
        .sign_in_with(&tab, latchkey_core::Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(status.subject.as_deref(), Some("alice"));
    assert!(store.load().unwrap().is_some());
    session.refresh().await.unwrap();
}
