//! RFC 9470 at the API: an `insufficient_user_authentication` challenge (Bearer or DPoP scheme,
//! among others, with hostile values) is a typed step-up outcome: no refresh, and the session
//! goes on for other calls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::{Error, ErrorKind, SessionState};
use latchkey_testkit::browsers::OpensNothing;
use latchkey_testkit::fake_idp::{refresh_mock, stored_rt, token_response, FakeIdp};
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

async fn api_answering(fake: &FakeIdp, route: &str, headers: &[&str]) -> Url {
    let mut response = ResponseTemplate::new(401);
    for h in headers {
        response = response.append_header("www-authenticate", *h);
    }
    Mock::given(path(route))
        .respond_with(response)
        .expect(1)
        .mount(&fake.server)
        .await;
    format!("{}{route}", fake.server.uri()).parse().unwrap()
}

#[tokio::test]
async fn an_insufficient_user_authentication_challenge_among_several_is_a_step_up_not_a_refresh() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .expect(0)
        .mount(&fake.server)
        .await;
    let url = api_answering(
        &fake,
        "/transfer",
        &[r#"Basic realm="x", Bearer realm="api", error="insufficient_user_authentication", error_description="need more", acr_values="urn:example:mfa urn:example:hw", max_age=300, DPoP algs="ES256""#],
    )
    .await;
    let err = fake.session.get(&url).await.unwrap_err();
    match &err {
        Error::StepUpRequired(c) => {
            assert_eq!(c.acr_values, ["urn:example:mfa", "urn:example:hw"]);
            assert_eq!(c.max_age, Some(300));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::StepUpRequired);
    assert_eq!(
        serde_json::to_value(err.kind()).unwrap(),
        "step_up_required"
    );
    assert!(!err.requires_reauthentication());
    assert_eq!(fake.session.status().state, SessionState::SignedIn);
    assert_eq!(
        fake.session.pending_step_up().unwrap().acr_values,
        ["urn:example:mfa", "urn:example:hw"]
    );
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-1"));

    // Other calls go on with the same token.
    Mock::given(path("/profile"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&fake.server)
        .await;
    let other: Url = format!("{}/profile", fake.server.uri()).parse().unwrap();
    assert_eq!(fake.session.get(&other).await.unwrap().status, 200);
    fake.server.verify().await;
}

#[tokio::test]
async fn a_dpop_scheme_challenge_in_a_second_header_is_a_step_up_too() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .expect(0)
        .mount(&fake.server)
        .await;
    let url = api_answering(
        &fake,
        "/recent",
        &[
            r#"Bearer realm="api""#,
            r#"DPoP algs="ES256", error="insufficient_user_authentication", max_age="60""#,
        ],
    )
    .await;
    match fake.session.get(&url).await.unwrap_err() {
        Error::StepUpRequired(c) => {
            assert!(c.acr_values.is_empty());
            assert_eq!(c.max_age, Some(60));
        }
        other => panic!("{other:?}"),
    }
    fake.server.verify().await;
}

#[tokio::test]
async fn hostile_challenge_values_are_bounded_and_still_no_refresh() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .expect(0)
        .mount(&fake.server)
        .await;
    let flood = (0..200)
        .map(|i| format!("urn:{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let header = format!(
        r#"Bearer error="insufficient_user_authentication", acr_values="{} {flood}", max_age=99999999999999999999"#,
        "x".repeat(4000)
    );
    let url = api_answering(&fake, "/hostile", &[&header]).await;
    let err = fake.session.get(&url).await.unwrap_err();
    let Error::StepUpRequired(c) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(c.acr_values.len(), latchkey_core::step_up::MAX_ACR_VALUES);
    assert!(c.acr_values.iter().all(|a| a.len() <= 200));
    assert_eq!(c.max_age, None);
    assert!(err.to_string().len() < 2000, "the message is bounded");
    fake.server.verify().await;
}

#[tokio::test]
async fn an_ordinary_invalid_token_challenge_still_refreshes_once() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(path("/api"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"Bearer error="invalid_token""#),
        )
        .expect(2)
        .mount(&fake.server)
        .await;
    let url: Url = format!("{}/api", fake.server.uri()).parse().unwrap();
    assert_eq!(fake.session.get(&url).await.unwrap().status, 401);
    assert!(fake.session.pending_step_up().is_none());
    fake.server.verify().await;
}

#[tokio::test]
async fn a_step_up_with_nothing_pending_is_refused_and_changes_nothing() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    let err = fake
        .session
        .step_up_pending(&OpensNothing, latchkey_core::Redirect::Loopback)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoStepUpPending), "{err:?}");
    assert_eq!(fake.session.status().state, SessionState::SignedIn);
}
