//! Sign-out on a fake server whose revocation endpoint fails or is gone: local state is wiped
//! either way, and the report says revocation failed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::{RevocationOutcome, SecretStore, SessionState, SignOutOptions};
use latchkey_testkit::fake_idp::FakeIdp;
use wiremock::matchers::{body_string_contains, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn sign_out_wipes_local_state_even_when_revocation_fails() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    Mock::given(path("/revoke"))
        .and(body_string_contains("token=rt-1"))
        .and(body_string_contains("token_type_hint=refresh_token"))
        .and(body_string_contains("client_id=app"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&fake.server)
        .await;
    let report = fake
        .session
        .sign_out(SignOutOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(report.revocation, RevocationOutcome::Failed(_)),
        "{report:?}"
    );
    assert!(fake.store.load().unwrap().is_none());
    assert_eq!(fake.session.status().state, SessionState::SignedOut);
}

#[tokio::test]
async fn sign_out_while_offline_still_forgets_everything() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    let session = fake.session.clone();
    let store = fake.store.clone();
    drop(fake); // the server is gone
    let report = session.sign_out(SignOutOptions::default()).await.unwrap();
    assert!(matches!(report.revocation, RevocationOutcome::Failed(_)));
    assert!(store.load().unwrap().is_none());
}
