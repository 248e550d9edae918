//! What DPoP costs: the same API calls and refreshes against the dev IdP by a bearer session
//! (`dpop = "off"`) and a DPoP-bound one, in the same run, interleaved; and the cost of signing
//! one proof on its own.

use std::time::{Duration, Instant};

use latchkey::dpop::{DpopKey, Proof};
use latchkey::Session;
use latchkey_testkit::{login_driver, DevIdp};
use url::Url;

use crate::{median, ms};

const CALLS: usize = 200;
const REFRESHES: usize = 31;
const PROOFS: usize = 2000;

async fn api_call(session: &Session, api: &Url) -> Duration {
    let start = Instant::now();
    let response = session.get(api).await.unwrap();
    assert_eq!(response.status, 200);
    start.elapsed()
}

async fn refresh(session: &Session) -> Duration {
    let start = Instant::now();
    session.refresh().await.unwrap();
    start.elapsed()
}

/// Prints the DPoP figures.
pub async fn figures() {
    let key = DpopKey::generate().unwrap();
    let url = Url::parse("https://api.example/v1/items").unwrap();
    let start = Instant::now();
    for _ in 0..PROOFS {
        std::hint::black_box(
            Proof::new("GET", &url)
                .access_token("an-access-token-of-typical-length-0123456789")
                .sign(&key)
                .unwrap(),
        );
    }
    let per_proof = start.elapsed() / PROOFS as u32;

    let idp = DevIdp::start(&[]);
    let api = Url::parse(&idp.api).unwrap();
    let (bearer, _) = idp.session_with(idp.bearer_config());
    let (bound, _) = idp.session_with(idp.config());
    bearer.sign_in(&login_driver("alice")).await.unwrap();
    let status = bound.sign_in(&login_driver("alice")).await.unwrap();
    assert!(status.key_bound && !bearer.status().key_bound);

    // Interleaved, so that both see the same machine state.
    let (mut calls_bearer, mut calls_dpop) = (Vec::new(), Vec::new());
    for _ in 0..CALLS {
        calls_bearer.push(api_call(&bearer, &api).await);
        calls_dpop.push(api_call(&bound, &api).await);
    }
    let (mut refresh_bearer, mut refresh_dpop) = (Vec::new(), Vec::new());
    for _ in 0..REFRESHES {
        refresh_bearer.push(refresh(&bearer).await);
        refresh_dpop.push(refresh(&bound).await);
    }
    let (cb, cd) = (median(calls_bearer), median(calls_dpop));
    let (rb, rd) = (median(refresh_bearer), median(refresh_dpop));
    println!();
    println!("DPoP (RFC 9449) against the dev IdP, same run, interleaved:");
    println!(
        "  one ES256 proof, signed alone: {:.1} µs (mean of {PROOFS} back to back)",
        per_proof.as_secs_f64() * 1e6
    );
    println!(
        "  API call (median of {CALLS}):   bearer {}   DPoP {}   (+{})",
        ms(cb),
        ms(cd),
        ms(cd.saturating_sub(cb))
    );
    println!(
        "  refresh  (median of {REFRESHES}):    bearer {}   DPoP {}   (+{})",
        ms(rb),
        ms(rd),
        ms(rd.saturating_sub(rb))
    );
    println!("  (the DPoP side includes the server's proof check: signature, htm, htu, ath, cnf.jkt, jti)");
}
