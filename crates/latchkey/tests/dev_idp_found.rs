//! The first-run screen offers the bundled dev IdP when one is running: found on its port,
//! and nothing else is mistaken for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey::verbs::find_dev_idp;
use latchkey_testkit::DevIdp;

fn port_of(issuer: &str) -> u16 {
    issuer.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_running_dev_idp_is_found_on_its_port_and_nothing_else_is_taken_for_it() {
    let idp = DevIdp::start(&[]);
    assert_eq!(
        find_dev_idp(port_of(&idp.issuer)).await.as_deref(),
        Some(idp.issuer.as_str())
    );
    // Another HTTP server on a port (here a fake OIDC provider without the dev IdP's counters).
    let other = wiremock::MockServer::start().await;
    latchkey_testkit::mount_discovery(&other, serde_json::json!({})).await;
    assert_eq!(find_dev_idp(port_of(&other.uri())).await, None);
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    assert_eq!(find_dev_idp(port).await, None);
}
