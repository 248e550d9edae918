//! One vault directory shared by several processes: a key that changed underneath, the
//! cross-process lock and its bounded wait. Two `Vault` instances on one directory behave as two
//! processes would (each takes the lock through its own file descriptor); two tests start a real
//! child process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use super::testing::{pin, protector, session};
use super::tests::new_vault;
use super::*;
use latchkey_core::store::SecretStore;

fn vault_error(e: StoreError) -> VaultError {
    match e {
        StoreError::Backend { source, .. } | StoreError::Replaced(source) => {
            *source.downcast::<VaultError>().expect("a vault error")
        }
        StoreError::Locked => VaultError::Locked,
        other => panic!("not a vault error: {other:?}"),
    }
}

/// Another process (a second instance on the same directory) signs in anew: new key, new files.
fn sign_in_anew_elsewhere(dir: &Path, rt: &str) -> Vault {
    let b = Vault::open(dir, protector()).unwrap();
    b.prepare(&pin("pin-135790")).unwrap();
    b.save(&b.lock_for_refresh().unwrap(), &session(rt))
        .unwrap();
    b
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn reads_back(dir: &Path, pin_: &str, rt: &str) {
    let v = Vault::open(dir, protector()).unwrap();
    v.unlock(&pin(pin_)).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), rt);
}

#[test]
fn a_save_after_another_process_signed_in_anew_is_refused_and_its_vault_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-A");
    drop(sign_in_anew_elsewhere(dir.path(), "RT-B"));

    let err = vault_error(
        a.save(&a.lock_for_refresh().unwrap(), &session("RT-A-ROTATED"))
            .unwrap_err(),
    );
    assert!(matches!(err, VaultError::KeyChanged), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    reads_back(dir.path(), "pin-135790", "RT-B");
}

#[test]
fn a_load_after_another_process_signed_in_anew_is_refused_and_never_quarantines_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-A");
    drop(sign_in_anew_elsewhere(dir.path(), "RT-B"));

    let err = vault_error(a.load().unwrap_err());
    assert!(matches!(err, VaultError::KeyChanged), "{err:?}");
    let err = vault_error(
        a.save(&a.lock_for_refresh().unwrap(), &session("RT-A-ROTATED"))
            .unwrap_err(),
    );
    assert!(matches!(err, VaultError::KeyChanged), "{err:?}");
    assert!(
        !names(dir.path()).iter().any(|n| n.contains("unreadable")),
        "{:?}",
        names(dir.path())
    );
    reads_back(dir.path(), "pin-135790", "RT-B");
}

#[test]
fn a_save_after_another_process_signed_out_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-A");
    Vault::open(dir.path(), protector())
        .unwrap()
        .destroy()
        .unwrap();

    let err = vault_error(
        a.save(&a.lock_for_refresh().unwrap(), &session("RT-A-ROTATED"))
            .unwrap_err(),
    );
    assert!(matches!(err, VaultError::KeyRemoved), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert_eq!(names(dir.path()), vec![LOCK_FILE.to_string()]);
    // A load sees no session, as before: the engine ends the session as ended elsewhere.
    assert!(a.load().unwrap().is_none());
}

#[test]
fn clearing_after_another_process_signed_in_anew_leaves_its_vault() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-A");
    drop(sign_in_anew_elsewhere(dir.path(), "RT-B"));

    let err = vault_error(a.clear(&a.lock_for_refresh().unwrap()).unwrap_err());
    assert!(matches!(err, VaultError::KeyChanged), "{err:?}");
    reads_back(dir.path(), "pin-135790", "RT-B");
}

#[test]
fn a_new_sign_in_is_not_written_while_another_process_holds_the_vault_lock() {
    let dir = tempfile::tempdir().unwrap();
    drop(new_vault(dir.path(), "pin-246810", "RT-OLD"));
    let key_file = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    let other = Vault::open(dir.path(), protector()).unwrap();
    let held = other.lock_for_refresh().unwrap();

    let a = Vault::open(dir.path(), protector())
        .unwrap()
        .with_lock_timeout(Duration::ZERO);
    a.prepare(&pin("pin-135790")).unwrap();
    // A write needs this vault's lock, which another process holds: no write can happen.
    let err = vault_error(a.lock_for_refresh().map(|_| ()).unwrap_err());
    assert!(matches!(err, VaultError::Busy { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), key_file);

    drop(held);
    reads_back(dir.path(), "pin-246810", "RT-OLD");
    a.save(&a.lock_for_refresh().unwrap(), &session("RT-NEW"))
        .unwrap();
    reads_back(dir.path(), "pin-135790", "RT-NEW");
}

#[test]
fn erasing_waits_for_another_process_holding_the_vault_lock() {
    let dir = tempfile::tempdir().unwrap();
    drop(new_vault(dir.path(), "pin-246810", "RT"));
    let other = Vault::open(dir.path(), protector()).unwrap();
    let held = other.lock_for_refresh().unwrap();

    let a = Vault::open(dir.path(), protector())
        .unwrap()
        .with_lock_timeout(Duration::ZERO);
    assert!(matches!(a.destroy(), Err(VaultError::Busy { .. })));
    assert!(matches!(
        a.lock_for_refresh().map(|_| ()).map_err(vault_error),
        Err(VaultError::Busy { .. })
    ));
    assert!(a.is_initialized() && dir.path().join(SNAPSHOT).exists());

    drop(held);
    reads_back(dir.path(), "pin-246810", "RT");
    a.destroy().unwrap();
    assert!(!a.is_initialized());
}

#[test]
fn writes_with_this_vaults_lock_held_do_not_wait_for_it_and_another_vaults_lock_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::open(dir.path(), protector())
        .unwrap()
        .with_lock_timeout(Duration::ZERO);
    let guard = v.lock_for_refresh().unwrap();
    v.prepare(&pin("pin-246810")).unwrap();
    v.save(&guard, &session("RT-1")).unwrap();
    v.save(&guard, &session("RT-2")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT-2");
    // Another vault's lock (here, of another directory) does not let this vault write.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Vault::open(elsewhere.path(), protector()).unwrap();
    assert!(matches!(
        v.save(&other.lock_for_refresh().unwrap(), &session("RT-3")),
        Err(StoreError::NotHeld)
    ));
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT-2");
    v.clear(&guard).unwrap();
    drop(guard);
    assert!(!v.is_initialized());
}

#[test]
fn unlock_and_lock_for_refresh_report_busy_while_another_holds_the_lock_and_work_once_released() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT").with_lock_timeout(Duration::ZERO);
    v.lock();
    let holder = FileLock::acquire_timeout(&dir.path().join(LOCK_FILE), Duration::ZERO).unwrap();
    // Held by another thread, as a suspended process would.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _held = holder;
        let _ = released.recv();
    });

    let err = v.unlock(&pin("pin-246810")).unwrap_err();
    assert!(matches!(err, VaultError::Busy { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Transient);
    let err = v.lock_for_refresh().map(|_| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert_eq!(
        read_failed_attempts(dir.path()),
        0,
        "a busy unlock counts nothing"
    );

    release.send(()).unwrap();
    thread.join().unwrap();
    v.unlock(&pin("pin-246810")).unwrap();
    drop(v.lock_for_refresh().unwrap());
}

pub(super) fn read_failed_attempts(dir: &Path) -> u64 {
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(KEY_FILE)).unwrap()).unwrap();
    file["failed_attempts"].as_u64().unwrap()
}

// ----- two OS processes -----

const CHILD_MODE: &str = "LATCHKEY_VAULT_TEST_CHILD_MODE";
const CHILD_DIR: &str = "LATCHKEY_VAULT_TEST_CHILD_DIR";
const READY: &str = "latchkey-child-holds-the-lock";

/// The body of the child processes started below (with `--ignored`): not a test of its own, so
/// it isn't counted as a passing one.
#[test]
#[ignore = "the body of the vault tests' child processes, run only by them"]
fn child_process_entry() {
    let (Ok(mode), Ok(dir)) = (std::env::var(CHILD_MODE), std::env::var(CHILD_DIR)) else {
        panic!("run only as a child process of the vault sharing tests");
    };
    let v = Vault::open(Path::new(&dir), protector()).unwrap();
    match mode.as_str() {
        "hold-lock" => {
            let _guard = v.lock_for_refresh().unwrap();
            let mut out = std::io::stdout();
            writeln!(out, "{READY}").unwrap();
            out.flush().unwrap();
            // Held until the parent closes our stdin.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        "sign-in-anew" => {
            v.prepare(&pin("pin-135790")).unwrap();
            v.save(&v.lock_for_refresh().unwrap(), &session("RT-CHILD"))
                .unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn child(mode: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--ignored",
            "tests_sharing::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_child_process_holding_the_lock_makes_unlock_busy_until_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT").with_lock_timeout(Duration::ZERO);
    v.lock();
    let mut holder = child("hold-lock", dir.path());
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(
        // libtest prints the test's name on the same line.
        lines.any(|l| l.is_ok_and(|l| l.trim_end().ends_with(READY))),
        "the child never took the lock"
    );

    let err = v.unlock(&pin("pin-246810")).unwrap_err();
    assert!(matches!(err, VaultError::Busy { .. }), "{err:?}");
    assert!(v.lock_for_refresh().is_err());

    drop(holder.stdin.take()); // the child lets go and exits
    assert!(holder.wait().unwrap().success());
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
}

#[test]
fn a_child_process_that_signed_in_anew_makes_this_processs_save_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-A");
    let mut signer = child("sign-in-anew", dir.path());
    drop(signer.stdin.take());
    assert!(signer.wait().unwrap().success());

    let err = vault_error(
        a.save(&a.lock_for_refresh().unwrap(), &session("RT-A-ROTATED"))
            .unwrap_err(),
    );
    assert!(matches!(err, VaultError::KeyChanged), "{err:?}");
    reads_back(dir.path(), "pin-135790", "RT-CHILD");
}
