//! Reading token endpoint answers: numbers, rotations kept, token types, refusals told apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn issued(body: &str) -> (Option<String>, Result<IssuedFields, Error>) {
    match read(200, body.as_bytes(), &[], false).unwrap() {
        TokenAnswer::Issued {
            refresh_token,
            fields,
        } => (refresh_token.map(|t| t.expose().to_owned()), fields),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_numeric_string_or_fractional_expires_in_is_a_number() {
    for (raw, secs) in [
        ("\"3600\"", 3600),
        ("3600.7", 3600),
        ("\" 60 \"", 60),
        ("0", 0),
    ] {
        let body = format!(r#"{{"access_token":"at","token_type":"Bearer","expires_in":{raw}}}"#);
        let (_, fields) = issued(&body);
        assert_eq!(
            fields.unwrap().expires_in,
            Some(Duration::from_secs(secs)),
            "{raw}"
        );
    }
}

#[test]
fn a_rotated_refresh_token_is_taken_even_when_every_other_field_is_wrong() {
    for body in [
        r#"{"refresh_token":"rt-2","access_token":"at","token_type":"Bearer","expires_in":-5}"#,
        r#"{"refresh_token":"rt-2","access_token":"at","token_type":"Bearer","expires_in":"soon"}"#,
        r#"{"refresh_token":"rt-2","access_token":"","token_type":"Bearer"}"#,
        r#"{"refresh_token":"rt-2","token_type":"DPoP","access_token":"at"}"#,
        r#"{"refresh_token":"rt-2","access_token":7,"token_type":"Bearer"}"#,
        r#"{"refresh_token":"rt-2"}"#,
    ] {
        let (rt, fields) = issued(body);
        assert_eq!(rt.as_deref(), Some("rt-2"), "{body}");
        assert!(fields.is_err(), "{body}");
    }
}

#[test]
fn token_type_is_case_insensitive_and_must_be_the_one_asked_for() {
    let (_, ok) = issued(r#"{"access_token":"at","token_type":"bearer"}"#);
    assert!(ok.is_ok());
    let (_, dpop) = issued(r#"{"access_token":"at","token_type":"DPoP"}"#);
    assert!(matches!(
        dpop,
        Err(Error::Dpop(DpopError::TokenTypeMismatch {
            asked: "Bearer",
            ..
        }))
    ));
    let (_, mac) = issued(r#"{"access_token":"at","token_type":"mac"}"#);
    assert!(matches!(mac, Err(Error::UnsupportedTokenType(t)) if t == "mac"));
}

#[test]
fn a_body_that_is_not_a_json_object_is_invalid_and_yields_no_refresh_token() {
    for body in ["", "<html>", "[]", "{\"refresh_token\":", "null"] {
        let (rt, fields) = issued(body);
        assert!(rt.is_none() && fields.is_err(), "{body}");
    }
}

#[test]
fn refusals_are_told_apart_from_transient_statuses() {
    for status in [408, 429, 500, 503] {
        let e = read(status, b"", &[], false).unwrap_err();
        assert!(e.is_transient(), "{status}");
    }
    for (status, body) in [
        (400, ""),
        (401, "<html>no</html>"),
        (403, "{}"),
        (403, r#"{"error":"Forbidden"}"#),
        (400, r#"{"error":7}"#),
    ] {
        match read(status, body.as_bytes(), &[], false).unwrap() {
            TokenAnswer::Unexplained { status: s } if s == status => {}
            other => panic!("{status} {body}: {other:?}"),
        }
    }
    match read(
        400,
        br#"{"error":"invalid_grant","error_description":"gone"}"#,
        &[],
        false,
    )
    .unwrap()
    {
        TokenAnswer::Refused {
            status: 400,
            error: e,
            description: Some(d),
        } => assert_eq!((e.as_str(), d.as_str()), ("invalid_grant", "gone")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read(302, b"", &[], false),
        Err(Error::InvalidResponse { .. })
    ));
}

#[test]
fn a_dpop_error_only_in_a_www_authenticate_challenge_is_a_dpop_error_not_a_refusal() {
    let headers = [
        r#"Bearer realm="as""#.to_owned(),
        r#"DPoP algs="ES256", error="invalid_dpop_proof", error_description="bad iat""#.to_owned(),
    ];
    assert!(matches!(
        read(401, b"", &headers, true),
        Err(Error::Dpop(DpopError::ProofRejected { description: Some(d), .. })) if d == "bad iat"
    ));
    let nonce = [r#"DPoP error="use_dpop_nonce""#.to_owned()];
    assert!(matches!(
        read(401, b"", &nonce, true),
        Err(Error::Dpop(DpopError::NonceDemandedAgain { .. }))
    ));
}
