//! A test-side DPoP proof verifier (RFC 9449 §4.3), written independently of the engine's
//! builder: it checks the signature against the embedded JWK and every claim.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::Digest as _;

/// A proof that passed [`verify`]: its header and claims.
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
    /// RFC 7638 thumbprint of the header's `jwk`.
    pub jkt: String,
}

/// What a proof must say.
#[derive(Debug, Default, Clone)]
pub struct Expect<'a> {
    /// `htm`.
    pub htm: &'a str,
    /// `htu` exactly (no query, no fragment).
    pub htu: &'a str,
    /// The access token whose hash `ath` must be; `None`: no `ath` allowed.
    pub access_token: Option<&'a str>,
    /// The nonce the proof must carry; `None`: no `nonce` allowed.
    pub nonce: Option<&'a str>,
    /// `iat` must be within this many seconds of now.
    pub max_skew_secs: i64,
}

/// Verifies a compact DPoP proof: `typ`, `alg` ES256 with a public (no `d`) P-256 `jwk` or
/// EdDSA with an Ed25519 one, the signature, a `jti`, `htm`, `htu`, `iat`, `ath` and `nonce` as
/// [`Expect`] says, with `iat` judged by this machine's clock.
pub fn verify(proof: &str, expect: &Expect<'_>) -> Result<VerifiedProof, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    verify_at(proof, expect, now)
}

/// [`verify`] by a server whose clock reads `now` (seconds since the epoch): `iat` must be
/// within [`Expect::max_skew_secs`] of it.
pub fn verify_at(proof: &str, expect: &Expect<'_>, now: i64) -> Result<VerifiedProof, String> {
    let parts: Vec<&str> = proof.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err("not a compact JWS".into());
    };
    let decode = |p: &str| -> Result<Value, String> {
        let bytes = B64.decode(p).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let header = decode(h)?;
    let claims = decode(c)?;
    if header["typ"] != "dpop+jwt" {
        return Err(format!("typ {}", header["typ"]));
    }
    let jwk = &header["jwk"];
    if jwk.get("d").is_some() {
        return Err("the jwk carries the private key".into());
    }
    let coord = |k: &str| -> Result<Vec<u8>, String> {
        B64.decode(jwk[k].as_str().ok_or(format!("jwk.{k}"))?)
            .map_err(|e| e.to_string())
    };
    let signature = B64.decode(s).map_err(|e| e.to_string())?;
    let signing_input = format!("{h}.{c}");
    let canonical = match (
        header["alg"].as_str(),
        jwk["kty"].as_str(),
        jwk["crv"].as_str(),
    ) {
        (Some("ES256"), Some("EC"), Some("P-256")) => {
            let mut sec1 = vec![4u8];
            sec1.extend(coord("x")?);
            sec1.extend(coord("y")?);
            let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| e.to_string())?;
            let sig = Signature::from_slice(&signature).map_err(|e| e.to_string())?;
            key.verify(signing_input.as_bytes(), &sig)
                .map_err(|_| "bad signature".to_string())?;
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                jwk["x"].as_str().unwrap_or_default(),
                jwk["y"].as_str().unwrap_or_default()
            )
        }
        (Some("EdDSA"), Some("OKP"), Some("Ed25519")) => {
            let x: [u8; 32] = coord("x")?
                .try_into()
                .map_err(|_| "jwk.x is not 32 bytes".to_string())?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|e| e.to_string())?;
            let sig =
                ed25519_dalek::Signature::from_slice(&signature).map_err(|e| e.to_string())?;
            key.verify_strict(signing_input.as_bytes(), &sig)
                .map_err(|_| "bad signature".to_string())?;
            format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                jwk["x"].as_str().unwrap_or_default()
            )
        }
        _ => return Err(format!("alg {} with jwk {jwk}", header["alg"])),
    };
    if claims["jti"].as_str().is_none_or(|j| j.len() < 16) {
        return Err("jti missing or short".into());
    }
    if claims["htm"] != expect.htm {
        return Err(format!("htm {}", claims["htm"]));
    }
    if claims["htu"] != expect.htu {
        return Err(format!("htu {}", claims["htu"]));
    }
    let iat = claims["iat"].as_i64().ok_or("iat missing")?;
    if (iat - now).abs() > expect.max_skew_secs.max(5) {
        return Err(format!("iat {iat} vs now {now}"));
    }
    match (expect.access_token, claims.get("ath")) {
        (None, None) => {}
        (Some(t), Some(Value::String(a))) if *a == B64.encode(sha2::Sha256::digest(t)) => {}
        (want, got) => return Err(format!("ath {got:?} for token {:?}", want.is_some())),
    }
    match (expect.nonce, claims.get("nonce")) {
        (None, None) => {}
        (Some(n), Some(Value::String(got))) if got == n => {}
        (want, got) => return Err(format!("nonce {got:?}, wanted {want:?}")),
    }
    let jkt = B64.encode(sha2::Sha256::digest(canonical.as_bytes()));
    Ok(VerifiedProof {
        header,
        claims,
        jkt,
    })
}
