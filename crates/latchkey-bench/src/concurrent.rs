//! 100 concurrent API calls on an expired access token: how many refresh requests reach the
//! token endpoint (counted by the dev IdP itself, `GET /dev/stats`), and the latency each caller
//! saw — versus the bare equivalent: one refresh POST, then 100 concurrent GETs with the new token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::{MemoryStore, SecretStore, Session};
use latchkey_testkit::{login_driver, DevIdp};
use url::Url;

use crate::{median, ms, percentile};

const CALLERS: usize = 100;
const ROUNDS: usize = 5;
/// The dev IdP's access-token lifetime here; the bench waits it out before each round.
const TTL: Duration = Duration::from_secs(2);

async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
    let body = request.send().await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

async fn token_requests(http: &reqwest::Client, issuer: &str) -> u64 {
    let stats = json(http.get(format!("{issuer}/dev/stats"))).await;
    stats["token_requests"].as_u64().unwrap()
}

/// Prints the concurrency figures.
pub async fn figures() {
    let idp = DevIdp::start(&[("DEV_IDP_ACCESS_TOKEN_TTL", "2")]);
    let api = Url::parse(&idp.api).unwrap();
    let http = reqwest::Client::new();
    let store = Arc::new(MemoryStore::new());
    // No background refresher: the callers find the token expired and must refresh themselves.
    let session = Arc::new(Session::new(idp.bearer_config(), store.clone()).unwrap());
    session.sign_in(&login_driver("alice")).await.unwrap();

    let mut sent = Vec::new();
    let mut latencies = Vec::new();
    let mut bare_latencies = Vec::new();
    for _ in 0..ROUNDS {
        // Bare: one refresh POST with the stored refresh token, then 100 concurrent GETs.
        let mut stored = store.load().unwrap().unwrap();
        let start = Instant::now();
        let json = json(http.post(format!("{}/token", idp.issuer)).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", stored.refresh_token.secret().as_str()),
            ("client_id", "latchkey-native"),
        ]))
        .await;
        let access = json["access_token"].as_str().unwrap().to_owned();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (http, api, access) = (http.clone(), api.clone(), access.clone());
                tokio::spawn(async move {
                    let response = http.get(api).bearer_auth(access).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await.unwrap();
                    start.elapsed()
                })
            })
            .collect();
        for caller in callers {
            bare_latencies.push(caller.await.unwrap());
        }
        // The bare POST rotated the refresh token: store it and let the session pick it up (as a
        // restart would), then give the session an access token of its own and let it expire.
        stored.refresh_token =
            openidconnect::RefreshToken::new(json["refresh_token"].as_str().unwrap().to_owned());
        store
            .save(&store.lock_for_refresh().unwrap(), &stored)
            .unwrap();
        session.lock().await;
        session.resume().await.unwrap();
        assert_eq!(session.get(&api).await.unwrap().status, 200);
        tokio::time::sleep(TTL + Duration::from_millis(300)).await;

        // Latchkey: 100 callers at once on the expired token.
        let before = token_requests(&http, &idp.issuer).await;
        let start = Instant::now();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (session, api) = (session.clone(), api.clone());
                tokio::spawn(async move {
                    let response = session.get(&api).await.unwrap();
                    assert_eq!(response.status, 200);
                    start.elapsed()
                })
            })
            .collect();
        for caller in callers {
            latencies.push(caller.await.unwrap());
        }
        sent.push(token_requests(&http, &idp.issuer).await - before);
    }
    let p = |v: &[Duration], q: f64| ms(percentile(v, q));
    println!(
        "{CALLERS} concurrent API calls on an expired access token ({ROUNDS} rounds, {} calls):",
        latencies.len()
    );
    println!(
        "  refresh requests sent per round (counted by the IdP): {:?} (target: exactly 1)",
        sent
    );
    println!(
        "  latency per caller: median {}, p95 {}, max {}",
        p(&latencies, 0.5),
        p(&latencies, 0.95),
        p(&latencies, 1.0)
    );
    println!(
        "  reference, bare (1 refresh POST, then {CALLERS} concurrent GETs): median {}, p95 {}, max {}",
        p(&bare_latencies, 0.5),
        p(&bare_latencies, 0.95),
        p(&bare_latencies, 1.0)
    );
    println!(
        "  ratio (median): {:.2}x",
        median(latencies).as_secs_f64() / median(bare_latencies).as_secs_f64()
    );
}
