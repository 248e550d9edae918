//! The IPC contract: one definition per shape, checked field by field.
//!
//! Samples of every shape that crosses IPC, with every variant of every enum, are serialized here
//! by the Rust types themselves and written as TypeScript to `guest-js/contract.gen.ts`, each
//! array declared `satisfies` its type from `guest-js/types.ts`. The typecheck (`npm run
//! typecheck`, part of the test command) then proves the TypeScript types match what Rust sends:
//! a field missing on either side, an extra one, or an unknown enum value fails it.
//! This test fails when the committed file is stale: regenerate with
//! `UPDATE_CONTRACT=1 cargo test -p tauri-plugin-latchkey contract`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey::vault::BiometricStatus;
use latchkey::{
    ErrorKind as CoreKind, ReauthReason, RefreshTrigger, RevocationOutcome, SessionEvent,
    SessionState, SessionStatus, SignOutReport, UnlockMethod,
};
use latchkey_testkit::contract::section;

use crate::error::{Error, ErrorKind};
use crate::models::{AccountId, FetchResponse, Push, Status};

fn status(state: SessionState, reauth_reason: Option<ReauthReason>) -> SessionStatus {
    SessionStatus {
        state,
        issuer: "http://127.0.0.1:8080".into(),
        subject: Some("alice".into()),
        display_name: Some("Alice Example".into()),
        scopes: vec!["openid".into(), "offline_access".into()],
        has_refresh_token: true,
        key_bound: true,
        access_token_expires_in_secs: Some(8),
        access_token_expires_at: Some(1_790_000_000),
        access_token_lifetime_secs: Some(10),
        next_refresh_in_secs: Some(6),
        refresh_count: 3,
        rotation_count: 2,
        last_refresh_at: Some(1_789_999_990),
        offline: false,
        reauth_reason,
    }
}

fn reasons() -> Vec<ReauthReason> {
    vec![
        ReauthReason::RefreshTokenRejected(Some("grant revoked".into())),
        ReauthReason::RefreshTokenRejected(None),
        ReauthReason::NoRefreshToken,
        ReauthReason::AccessTokenRejected,
        ReauthReason::EndedElsewhere,
        ReauthReason::StoredSessionErased,
        ReauthReason::DpopKeyMissing,
        ReauthReason::DpopProofRejected,
    ]
}

/// latchkey-core's kinds, as session events carry them.
const CORE_KINDS: [CoreKind; 10] = [
    CoreKind::Configuration,
    CoreKind::Cancelled,
    CoreKind::ReauthRequired,
    CoreKind::NotSignedIn,
    CoreKind::Transient,
    CoreKind::Locked,
    CoreKind::Protocol,
    CoreKind::WrongState,
    CoreKind::Internal,
    CoreKind::StepUpRequired,
];

/// The plugin's kinds, as its errors carry them.
const KINDS: [ErrorKind; 12] = [
    ErrorKind::Configuration,
    ErrorKind::Cancelled,
    ErrorKind::ReauthRequired,
    ErrorKind::NotSignedIn,
    ErrorKind::Transient,
    ErrorKind::Locked,
    ErrorKind::Protocol,
    ErrorKind::WrongState,
    ErrorKind::Internal,
    ErrorKind::OriginNotAllowed,
    ErrorKind::UnknownAccount,
    ErrorKind::StepUpRequired,
];

fn views() -> Vec<Status> {
    let mut sessions: Vec<Option<SessionStatus>> = vec![None];
    for state in [
        SessionState::SignedOut,
        SessionState::Locked,
        SessionState::SignedIn,
    ] {
        sessions.push(Some(status(state, None)));
    }
    for reason in reasons() {
        sessions.push(Some(status(SessionState::ReauthRequired, Some(reason))));
    }
    let biometrics = [
        (BiometricStatus::NotOffered, None),
        (BiometricStatus::Off, Some("fingerprint")),
        (BiometricStatus::Ready, Some("fingerprint")),
        (BiometricStatus::NeedsPin, Some("fingerprint")),
        (BiometricStatus::SetUpAgain, Some("fingerprint")),
    ];
    let methods = [
        (UnlockMethod::Pin, "PIN"),
        (UnlockMethod::Biometric, "fingerprint"),
        (UnlockMethod::BiometricGate, "Touch ID"),
    ];
    sessions
        .into_iter()
        .enumerate()
        .map(|(i, session)| {
            let (unlock_method, unlock_label) = methods[i % methods.len()];
            let (biometric, biometric_label) = biometrics[i % biometrics.len()];
            Status {
                account: AccountId::default(),
                configured: session.is_some(),
                config_error: session.is_none().then(|| "the issuer is required".into()),
                session,
                unlock_method,
                unlock_label,
                has_api: i % 2 == 0,
                biometric,
                biometric_label,
            }
        })
        .collect()
}

fn events() -> Vec<SessionEvent> {
    let signed_in = || Box::new(status(SessionState::SignedIn, None));
    let mut events = vec![SessionEvent::SignedIn {
        status: signed_in(),
    }];
    for trigger in [
        RefreshTrigger::Scheduled,
        RefreshTrigger::OnDemand,
        RefreshTrigger::Unauthorized,
        RefreshTrigger::Forced,
    ] {
        events.push(SessionEvent::Refreshed {
            trigger,
            rotated: true,
            status: signed_in(),
        });
    }
    for (i, kind) in CORE_KINDS.into_iter().enumerate() {
        events.push(SessionEvent::RefreshFailed {
            trigger: RefreshTrigger::Scheduled,
            kind,
            message: "the token endpoint unavailable".into(),
            retry_in_secs: (i % 2 == 0).then_some(4),
        });
    }
    events.push(SessionEvent::StoreFailed {
        message: "the vault could not be written".into(),
    });
    for reason in reasons() {
        events.push(SessionEvent::SessionEnded { reason });
    }
    events.push(SessionEvent::Locked);
    events.push(SessionEvent::SignedOut);
    events
}

fn sign_outs() -> Vec<SignOutReport> {
    [
        RevocationOutcome::Revoked,
        RevocationOutcome::NotSupported,
        RevocationOutcome::NothingToRevoke,
        RevocationOutcome::Failed("the revocation endpoint answered HTTP 503".into()),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, revocation)| SignOutReport {
        revocation,
        end_session_opened: i % 2 == 0,
    })
    .collect()
}

fn generated() -> String {
    let mut errors: Vec<Error> = KINDS
        .into_iter()
        .map(|kind| Error::new(kind, "a sentence for the user"))
        .collect();
    errors.push(
        Error::new(
            ErrorKind::Configuration,
            "the issuer must use https (plain http is allowed only on the loopback addresses \
             127.0.0.1 and [::1])",
        )
        .with_field("issuer"),
    );
    let fetches: Vec<FetchResponse> = [
        crate::models::Response {
            status: 200,
            content_type: Some("application/json".into()),
            body: br#"{"hello":"alice"}"#.to_vec(),
        },
        crate::models::Response {
            status: 502,
            content_type: None,
            body: b"<html>bad gateway</html>".to_vec(),
        },
    ]
    .into_iter()
    .map(FetchResponse::from)
    .collect();
    let mut pushes: Vec<Push> = views()
        .into_iter()
        .take(2)
        .map(|s| Push::Status(Box::new(s)))
        .collect();
    pushes.extend(events().into_iter().take(2).map(Push::Event));
    [
        "// Generated by src/tests_contract.rs from the Rust types' own serialization: do not\n\
         // edit. Regenerate: UPDATE_CONTRACT=1 cargo test -p tauri-plugin-latchkey contract\n\
         // `npm run typecheck` proves every sample satisfies its TypeScript type in ./types.ts.\n\
         import type { FetchResponse, LatchkeyError, Push, SessionEvent, SignOutResult, Status, StepUp } from './types';\n"
            .to_owned(),
        section("statuses", "Status", &views()),
        section("events", "SessionEvent", &events()),
        section("errors", "LatchkeyError", &errors),
        section("signOuts", "SignOutResult", &sign_outs()),
        section("fetches", "FetchResponse", &fetches),
        section("pushes", "Push", &pushes),
        section(
            "stepUps",
            "StepUp",
            &[
                Some(latchkey::step_up::StepUpChallenge {
                    acr_values: vec!["urn:latchkey:mfa".into()],
                    max_age: Some(300),
                }),
                Some(latchkey::step_up::StepUpChallenge {
                    acr_values: vec![],
                    max_age: None,
                }),
                None,
            ],
        ),
    ]
    .join("\n")
}

#[test]
fn the_ipc_contract_file_is_generated_from_the_rust_types_and_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-js/contract.gen.ts");
    latchkey_testkit::contract::check_generated(&path, &generated(), "tauri-plugin-latchkey");
}
