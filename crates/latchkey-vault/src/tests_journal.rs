//! The rotation journal (`journal.rs`): appended, replayed, cut short, forged, folded, erased.

use super::files::JOURNAL;
use super::journal::{self, Generation, FOLD_AFTER};
use super::testing::{pin, protector, session};
use super::tests::new_vault;
use super::*;
use latchkey_core::store::SecretStore;
use latchkey_testkit::LogCapture;

const PIN: &str = "pin-246810";

fn save(v: &Vault, rt: &str) {
    v.save(&v.lock_for_refresh().unwrap(), &session(rt))
        .unwrap();
}

/// What a process killed now leaves: no lock, no drop, so no fold.
fn kill(v: Vault) {
    std::mem::forget(v);
}

fn reopened(dir: &Path) -> Vault {
    let v = Vault::open(dir, protector()).unwrap();
    v.unlock(&pin(PIN)).unwrap();
    v
}

fn stored_token(v: &Vault) -> String {
    v.load().unwrap().unwrap().refresh_token.secret().clone()
}

fn generation_of(v: &Vault) -> Generation {
    v.state().cache.as_ref().unwrap().generation
}

fn journal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(JOURNAL)).map_or(0, |m| m.len())
}

/// The journal in `dir` replayed against the snapshot on disk, as an open does.
fn replay_on_disk(dir: &Path, key: &VaultKey) -> journal::Replay {
    let snapshot = std::fs::read(dir.join(SNAPSHOT)).unwrap();
    journal::replay(&dir.join(JOURNAL), key, &Generation::of_snapshot(&snapshot)).unwrap()
}

fn append_raw(dir: &Path, bytes: &[u8]) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(JOURNAL))
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn a_rotation_is_appended_to_the_journal_and_a_reopened_vault_reads_the_newest_token() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    let snapshot = std::fs::read(dir.path().join(SNAPSHOT)).unwrap();
    save(&v, "RT-2");
    save(&v, "RT-3");
    // The snapshot was not rewritten: the rotations are in the journal.
    assert_eq!(std::fs::read(dir.path().join(SNAPSHOT)).unwrap(), snapshot);
    assert!(journal_len(dir.path()) > 0);
    assert_eq!(stored_token(&v), "RT-3");
    kill(v);

    let v = reopened(dir.path());
    assert_eq!(stored_token(&v), "RT-3");
    let s = v.load().unwrap().unwrap();
    assert_eq!(s.display_name.as_deref(), Some("Alice Example"));
    assert_eq!(
        s.id_token.as_ref().unwrap().expose(),
        "header.payload.sig-ID-TOKEN"
    );
}

#[test]
fn a_journal_cut_mid_record_opens_with_the_last_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    save(&v, "RT-2");
    let through_rt2 = journal_len(dir.path());
    save(&v, "RT-3");
    let through_rt3 = journal_len(dir.path());
    kill(v);
    let journal = std::fs::read(dir.path().join(JOURNAL)).unwrap();
    // Cut inside RT-3's record body, then inside its header.
    for cut in [through_rt3 - 7, through_rt2 + 5] {
        std::fs::write(dir.path().join(JOURNAL), &journal[..cut as usize]).unwrap();
        let v = reopened(dir.path());
        assert_eq!(stored_token(&v), "RT-2", "cut at {cut}");
        kill(v);
    }
    // The next rotation goes after the last complete record, not after the torn bytes.
    let v = reopened(dir.path());
    save(&v, "RT-4");
    assert_eq!(journal_len(dir.path()), through_rt3);
    kill(v);
    assert_eq!(stored_token(&reopened(dir.path())), "RT-4");
}

#[test]
fn a_record_sealed_with_another_key_or_for_another_generation_is_refused_and_logged_without_secrets(
) {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    save(&v, "RT-2");
    let generation = generation_of(&v);
    let our_key = v.key().unwrap();
    // Ours: the sign-in's record and RT-2's, of one size.
    let ours = journal_len(dir.path());
    // Newer sequence numbers than ours, so only the key or the generation can refuse them.
    let forged = journal::seal(
        &VaultKey::generate(),
        &generation,
        3,
        &session("RT-FORGED-SECRET"),
    )
    .unwrap();
    let stale = journal::seal(&our_key, &Generation::new(), 4, &session("RT-STALE-SECRET"));
    append_raw(dir.path(), &forged);
    append_raw(dir.path(), &stale.unwrap());
    kill(v);
    let replay = replay_on_disk(dir.path(), &our_key);
    assert_eq!(
        (replay.tail.records, replay.refused),
        (2, 2),
        "ours taken (the sign-in's and RT-2), both others refused"
    );

    // Tests run in parallel threads with no subscriber; one of them may register these call
    // sites first and cache "never" for them. A global subscriber that wants everything (and
    // writes it nowhere) makes every call site ask the thread's subscriber each time.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::TRACE)
            .finish(),
    );
    let logs = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let v = reopened(dir.path());
        assert_eq!(stored_token(&v), "RT-2");
        // Our next rotation replaces what was refused.
        save(&v, "RT-5");
        assert_eq!(journal_len(dir.path()), ours / 2 * 3);
        kill(v);
        assert_eq!(stored_token(&reopened(dir.path())), "RT-5");
    });
    let text = logs.text();
    assert!(text.contains("does not authenticate"), "{text}");
    assert!(text.contains("another snapshot generation"), "{text}");
    assert!(!text.contains("SECRET") && !text.contains("RT-"), "{text}");
}

#[test]
fn a_fold_that_crashed_before_emptying_the_journal_replays_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    save(&v, "RT-2");
    save(&v, "RT-3");
    let journal = std::fs::read(dir.path().join(JOURNAL)).unwrap();
    let snapshot = std::fs::read(dir.path().join(SNAPSHOT)).unwrap();
    v.lock(); // folds: the snapshot gets RT-3, then the journal is reset to RT-3 alone
    assert_ne!(std::fs::read(dir.path().join(SNAPSHOT)).unwrap(), snapshot);
    // Three records (the sign-in's, RT-2, RT-3) became one.
    assert_eq!(journal_len(dir.path()), journal.len() as u64 / 3);
    assert_eq!(stored_token(&reopened(dir.path())), "RT-3");
    // A crash between the two steps: the new snapshot beside the old records, which it refuses;
    // the snapshot itself is read.
    std::fs::write(dir.path().join(JOURNAL), &journal).unwrap();
    let v = reopened(dir.path());
    assert_eq!(stored_token(&v), "RT-3");
    assert_eq!(v.state().cache.as_ref().unwrap().tail.records, 0);
    save(&v, "RT-4");
    kill(v);
    assert_eq!(stored_token(&reopened(dir.path())), "RT-4");
}

#[test]
fn the_journal_folds_into_the_snapshot_once_it_holds_enough_records() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-0"); // the sign-in's record, then 31 rotations
    for i in 1..FOLD_AFTER {
        save(&v, &format!("RT-{i}"));
    }
    let full = journal_len(dir.path());
    assert!(full > 0);
    save(&v, "RT-LAST");
    assert_eq!(journal_len(dir.path()), 0, "folded instead of appended");
    save(&v, "RT-AFTER");
    assert!(journal_len(dir.path()) > 0 && journal_len(dir.path()) < full);
    kill(v);
    assert_eq!(stored_token(&reopened(dir.path())), "RT-AFTER");
}

#[test]
fn a_record_of_a_snapshot_that_was_replaced_is_refused_and_the_snapshot_decides() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    save(&v, "RT-2");
    kill(v);
    // The snapshot damaged: the journal's record no longer applies, and the snapshot fails.
    super::tests::corrupt_snapshot(dir.path());
    let v = Vault::open(dir.path(), protector()).unwrap();
    assert!(matches!(
        v.unlock(&pin(PIN)),
        Err(VaultError::Unreadable { .. })
    ));
}

#[test]
fn signing_out_or_erasing_removes_the_journal_too() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    save(&v, "RT-2");
    assert!(dir.path().join(JOURNAL).exists());
    v.clear(&v.lock_for_refresh().unwrap()).unwrap();
    assert!(!dir.path().join(JOURNAL).exists());

    let v = new_vault(dir.path(), PIN, "RT-3");
    save(&v, "RT-4");
    assert!(dir.path().join(JOURNAL).exists());
    v.destroy().unwrap();
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec![LOCK_FILE.to_string()]);
}

#[test]
fn a_new_sign_in_replaces_the_previous_journal_with_its_own_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-OLD-1");
    save(&v, "RT-OLD-2");
    v.prepare(&pin(PIN)).unwrap();
    save(&v, "RT-NEW");
    let key = v.key().unwrap();
    kill(v);
    let replay = replay_on_disk(dir.path(), &key);
    assert_eq!((replay.tail.records, replay.refused), (1, 0));
    assert_eq!(
        replay.session.unwrap().refresh_token.secret(),
        "RT-NEW",
        "the old session's records are gone"
    );
    assert_eq!(stored_token(&reopened(dir.path())), "RT-NEW");
}

/// The journey's next day: signed in, the app quit without a rotation (no fold has anything to
/// fold), and the next open takes the sign-in's record instead of decrypting the snapshot.
#[test]
fn the_first_open_after_a_sign_in_reads_its_record_not_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    v.lock();
    drop(v);
    let v = reopened(dir.path());
    assert_eq!(stored_token(&v), "RT-1");
    assert_eq!(
        v.state().cache.as_ref().unwrap().tail.records,
        1,
        "the session came from the journal's record (a decrypted snapshot takes none)"
    );
}

#[test]
fn a_rotation_writes_no_metadata_unless_who_or_where_changed_and_the_fold_dates_it() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    let meta = dir.path().join(META_FILE);
    let mut old = v.metadata().unwrap().unwrap();
    old.last_used_at = 1;
    std::fs::write(&meta, serde_json::to_vec(&old).unwrap()).unwrap();
    save(&v, "RT-2"); // an hour-old (here: ancient) last use, and still no metadata write
    assert_eq!(v.metadata().unwrap().unwrap().last_used_at, 1);
    let mut renamed = session("RT-3");
    renamed.display_name = Some("Alice B. Example".into());
    v.save(&v.lock_for_refresh().unwrap(), &renamed).unwrap();
    let now = v.metadata().unwrap().unwrap();
    assert_eq!(now.display_name.as_deref(), Some("Alice B. Example"));
    assert!(now.last_used_at > 1);

    let mut old = now;
    old.last_used_at = 1;
    std::fs::write(&meta, serde_json::to_vec(&old).unwrap()).unwrap();
    save(&v, "RT-4");
    v.lock(); // the fold brings last_used_at up to date
    assert!(v.metadata().unwrap().unwrap().last_used_at > 1);
}

#[cfg(unix)]
#[test]
fn the_journal_is_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), PIN, "RT-1");
    save(&v, "RT-2");
    let mode = std::fs::metadata(dir.path().join(JOURNAL))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
