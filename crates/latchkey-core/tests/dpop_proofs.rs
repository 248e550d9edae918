//! DPoP proofs as built by the engine, checked by an independent test-side verifier.

use latchkey_core::dpop::{DpopKey, Proof};
use latchkey_testkit::dpop::{verify, Expect};
use url::Url;

#[test]
fn a_token_endpoint_proof_carries_every_claim_and_verifies_with_its_embedded_key() {
    let key = DpopKey::generate().unwrap();
    let url = Url::parse("https://as.example/token?x=1#f").unwrap();
    let jws = Proof::new("POST", &url).sign(&key).unwrap();
    let proof = verify(
        &jws,
        &Expect {
            htm: "POST",
            htu: "https://as.example/token",
            max_skew_secs: 5,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(proof.jkt, key.thumbprint());
    assert!(proof.claims.get("ath").is_none());
}

#[test]
fn a_resource_proof_carries_ath_and_the_servers_nonce() {
    let key = DpopKey::generate().unwrap();
    let url = Url::parse("https://api.example/v1/items?page=2").unwrap();
    let jws = Proof::new("GET", &url)
        .access_token("at-123")
        .nonce(Some("n-9"))
        .sign(&key)
        .unwrap();
    verify(
        &jws,
        &Expect {
            htm: "GET",
            htu: "https://api.example/v1/items",
            access_token: Some("at-123"),
            nonce: Some("n-9"),
            max_skew_secs: 5,
        },
    )
    .unwrap();
    // The verifier is not a rubber stamp: each wrong expectation fails.
    for wrong in [
        Expect {
            htm: "POST",
            ..expect_ok()
        },
        Expect {
            htu: "https://api.example/v1/items?page=2",
            ..expect_ok()
        },
        Expect {
            access_token: Some("at-other"),
            ..expect_ok()
        },
        Expect {
            nonce: Some("n-8"),
            ..expect_ok()
        },
        Expect {
            nonce: None,
            ..expect_ok()
        },
    ] {
        assert!(verify(&jws, &wrong).is_err(), "{wrong:?}");
    }
}

fn expect_ok() -> Expect<'static> {
    Expect {
        htm: "GET",
        htu: "https://api.example/v1/items",
        access_token: Some("at-123"),
        nonce: Some("n-9"),
        max_skew_secs: 5,
    }
}

#[test]
fn a_tampered_proof_or_one_signed_by_another_key_fails_verification() {
    let key = DpopKey::generate().unwrap();
    let other = DpopKey::generate().unwrap();
    let url = Url::parse("https://as.example/token").unwrap();
    let jws = Proof::new("POST", &url).sign(&key).unwrap();
    let other_jws = Proof::new("POST", &url).sign(&other).unwrap();
    let expect = Expect {
        htm: "POST",
        htu: "https://as.example/token",
        max_skew_secs: 5,
        ..Default::default()
    };
    // key's header and claims, other's signature.
    let (head, _) = jws.rsplit_once('.').unwrap();
    let (_, other_sig) = other_jws.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{head}.{other_sig}"), &expect).unwrap_err(),
        "bad signature"
    );
}

#[test]
fn every_proof_has_a_fresh_jti() {
    let key = DpopKey::generate().unwrap();
    let url = Url::parse("https://as.example/token").unwrap();
    let expect = Expect {
        htm: "POST",
        htu: "https://as.example/token",
        max_skew_secs: 5,
        ..Default::default()
    };
    let jtis: std::collections::HashSet<String> = (0..50)
        .map(|_| {
            let p = verify(&Proof::new("POST", &url).sign(&key).unwrap(), &expect).unwrap();
            p.claims["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 50);
}

#[test]
fn an_ed25519_proof_verifies_with_its_embedded_key_and_not_with_another_signature() {
    let key = DpopKey::generate_for("EdDSA").unwrap();
    let other = DpopKey::generate_for("EdDSA").unwrap();
    let url = Url::parse("https://as.example/token").unwrap();
    let expect = Expect {
        htm: "POST",
        htu: "https://as.example/token",
        max_skew_secs: 5,
        ..Default::default()
    };
    let jws = Proof::new("POST", &url).sign(&key).unwrap();
    let proof = verify(&jws, &expect).unwrap();
    assert_eq!(proof.header["alg"], "EdDSA");
    assert_eq!(proof.jkt, key.thumbprint());
    let (head, _) = jws.rsplit_once('.').unwrap();
    let other_jws = Proof::new("POST", &url).sign(&other).unwrap();
    let (_, other_sig) = other_jws.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{head}.{other_sig}"), &expect).unwrap_err(),
        "bad signature"
    );
}
