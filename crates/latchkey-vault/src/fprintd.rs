//! fprintd (`net.reactivated.Fprint`) on the system D-Bus as a [`FingerGate`]: `GetDefaultDevice`,
//! `ListEnrolledFingers`, `Claim`, `VerifyStart`, the `VerifyStatus` signal, `VerifyStop`,
//! `Release`.
//!
//! # Which bus
//! [`Fprintd::system`] connects to the system bus at its fixed path
//! ([`SYSTEM_BUS_ADDRESS`]) and ignores `DBUS_SYSTEM_BUS_ADDRESS`: a process that set that
//! variable for us (a launcher, a compromised shell profile) could otherwise point the app at a
//! bus it runs, with a fake fprintd that always answers "verify-match" — silently. Tests use
//! [`Fprintd::on_bus`], which only code can call; no front end reads a bus address from the
//! environment or its configuration in a release build.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::StreamExt as _;

use super::fingerprint::FingerGate;
use super::key::ProtectorError;

/// The system bus's well-known socket (the D-Bus specification's default).
pub const SYSTEM_BUS_ADDRESS: &str = "unix:path=/var/run/dbus/system_bus_socket";

/// How long a verification waits for a finger before giving up (`Unavailable`).
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a waiting verification looks at its cancel flag.
const POLL: Duration = Duration::from_millis(100);

#[zbus::proxy(
    interface = "net.reactivated.Fprint.Manager",
    default_service = "net.reactivated.Fprint",
    default_path = "/net/reactivated/Fprint/Manager",
    gen_blocking = false
)]
trait Manager {
    fn get_default_device(&self) -> zbus::Result<zbus::zvariant::OwnedObjectPath>;
}

#[zbus::proxy(
    interface = "net.reactivated.Fprint.Device",
    default_service = "net.reactivated.Fprint",
    gen_blocking = false
)]
trait Device {
    fn list_enrolled_fingers(&self, username: &str) -> zbus::Result<Vec<String>>;
    fn claim(&self, username: &str) -> zbus::Result<()>;
    fn release(&self) -> zbus::Result<()>;
    fn verify_start(&self, finger_name: &str) -> zbus::Result<()>;
    fn verify_stop(&self) -> zbus::Result<()>;
    #[zbus(signal)]
    fn verify_status(&self, result: &str, done: bool) -> zbus::Result<()>;
}

/// fprintd, for the user running this process.
#[derive(Clone)]
pub struct Fprintd {
    address: String,
    cancelled: Arc<AtomicBool>,
}

impl std::fmt::Debug for Fprintd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fprintd")
            .field("address", &self.address)
            .finish()
    }
}

impl Fprintd {
    /// fprintd on the real system bus ([`SYSTEM_BUS_ADDRESS`]).
    pub fn system() -> Self {
        Self::on_bus(SYSTEM_BUS_ADDRESS)
    }

    /// fprintd on the bus at `address`: for tests, which run a private system bus.
    pub fn on_bus(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn device(&self) -> Result<DeviceProxy<'static>, ProtectorError> {
        let conn = zbus::connection::Builder::address(self.address.as_str())
            .map_err(unavailable)?
            .build()
            .await
            .map_err(unavailable)?;
        let manager = ManagerProxy::new(&conn).await.map_err(unavailable)?;
        let path = manager.get_default_device().await.map_err(fprint_error)?;
        DeviceProxy::builder(&conn)
            .path(path)
            .map_err(unavailable)?
            .build()
            .await
            .map_err(unavailable)
    }

    async fn verify_claimed(&self, device: &DeviceProxy<'_>) -> Result<(), ProtectorError> {
        let mut statuses = device.receive_verify_status().await.map_err(unavailable)?;
        device.verify_start("any").await.map_err(fprint_error)?;
        let started = Instant::now();
        let outcome = loop {
            let tick = async {
                async_io::Timer::after(POLL).await;
                None
            };
            let next = futures_lite::future::or(async { Some(statuses.next().await) }, tick).await;
            match next {
                Some(Some(signal)) => {
                    let args = signal.args().map_err(unavailable)?;
                    match verdict(args.result, args.done) {
                        Some(result) => break result,
                        None => tracing::debug!(status = args.result, "fprintd: scan again"),
                    }
                }
                Some(None) => break Err(ProtectorError::Unavailable("fprintd went away".into())),
                None if self.cancelled.load(Ordering::SeqCst) => {
                    break Err(ProtectorError::Cancelled)
                }
                None if started.elapsed() > VERIFY_TIMEOUT => {
                    break Err(ProtectorError::Unavailable(
                        "no finger on the reader in time".into(),
                    ))
                }
                None => {}
            }
        };
        if let Err(e) = device.verify_stop().await {
            tracing::debug!(error = %e, "fprintd: VerifyStop");
        }
        outcome
    }
}

/// What a `VerifyStatus` result means: `None` for "keep waiting" (a retry the reader asks for).
fn verdict(result: &str, done: bool) -> Option<Result<(), ProtectorError>> {
    match result {
        "verify-match" => Some(Ok(())),
        "verify-no-match" => Some(Err(ProtectorError::WrongCredential)),
        "verify-retry-scan"
        | "verify-swipe-too-short"
        | "verify-finger-not-centered"
        | "verify-remove-and-retry"
            if !done =>
        {
            None
        }
        other => Some(Err(ProtectorError::Unavailable(format!(
            "the fingerprint reader reported {other}"
        )))),
    }
}

fn unavailable(e: impl std::fmt::Display) -> ProtectorError {
    ProtectorError::Unavailable(format!("fprintd: {e}"))
}

/// fprintd's D-Bus errors: no enrolled prints means the enrolment the wrap relied on is gone.
fn fprint_error(e: zbus::Error) -> ProtectorError {
    if let zbus::Error::MethodError(name, _, _) = &e {
        if name.as_str() == "net.reactivated.Fprint.Error.NoEnrolledPrints" {
            return ProtectorError::KeyInvalidated;
        }
    }
    unavailable(e)
}

impl FingerGate for Fprintd {
    fn enrolled(&self) -> Result<Vec<String>, ProtectorError> {
        async_io::block_on(async {
            let device = self.device().await?;
            match device.list_enrolled_fingers("").await.map_err(fprint_error) {
                Err(ProtectorError::KeyInvalidated) => Ok(Vec::new()),
                other => other,
            }
        })
    }

    /// A [`FingerGate::cancel`] that came before this verification started (the user chose the
    /// PIN at once) ends it too: the flag is cleared when a verification ends, not when it
    /// begins.
    fn verify(&self, _reason: &str) -> Result<(), ProtectorError> {
        let result = async_io::block_on(async {
            if self.cancelled.load(Ordering::SeqCst) {
                return Err(ProtectorError::Cancelled);
            }
            let device = self.device().await?;
            device.claim("").await.map_err(fprint_error)?;
            let result = self.verify_claimed(&device).await;
            if let Err(e) = device.release().await {
                tracing::debug!(error = %e, "fprintd: Release");
            }
            result
        });
        self.cancelled.store(false, Ordering::SeqCst);
        result
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }
}

/// Linux biometric unlock as the app and the CLI use it: fprintd on the real system bus in front
/// of the vault key in the user's Secret Service (session bus).
pub fn system_fingerprint(
) -> super::fingerprint::FingerprintProtector<Fprintd, super::SecretServiceStorage> {
    super::fingerprint::FingerprintProtector::new(
        Fprintd::system(),
        super::SecretServiceStorage::session(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_statuses_map_to_match_no_match_retry_or_unavailable() {
        assert!(matches!(verdict("verify-match", true), Some(Ok(()))));
        assert!(matches!(
            verdict("verify-no-match", true),
            Some(Err(ProtectorError::WrongCredential))
        ));
        assert!(verdict("verify-retry-scan", false).is_none());
        assert!(matches!(
            verdict("verify-disconnected", true),
            Some(Err(ProtectorError::Unavailable(_)))
        ));
    }

    #[test]
    fn production_pins_the_system_bus_socket_and_ignores_the_environment() {
        // Nothing else in this test binary reads this variable.
        std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/tmp/attacker-bus");
        let f = Fprintd::system();
        assert_eq!(f.address, SYSTEM_BUS_ADDRESS);
        assert_eq!(
            SYSTEM_BUS_ADDRESS,
            "unix:path=/var/run/dbus/system_bus_socket"
        );
    }
}
