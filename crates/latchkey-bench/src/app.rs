//! The app against a minimal Tauri window with the same plugins and release profile, built in the
//! same run (`scripts/bench.sh` builds both): stripped binary size, start to first paint under
//! Xvfb, and the memory of the whole process tree (the app, WebKit's web and network processes)
//! after 10 s idle.
//!
//! First paint is observed from outside, the same way for both binaries: the X server's root
//! window is read every [`POLL`] until the top band of the screen shows rendered text (many
//! distinct colours from anti-aliasing; an empty screen or a bare window background has one or
//! two). Nothing in the app is instrumented for this.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};
use x11rb::rust_connection::RustConnection;

use crate::memory::{self, Breakdown};
use crate::{median, ms};

const POLL: Duration = Duration::from_millis(15);
const PAINT_TIMEOUT: Duration = Duration::from_secs(30);
/// Distinct pixel values in the observed band that count as "text is on screen".
const PAINTED_COLOURS: usize = 12;
const BAND_HEIGHT: u16 = 240;
const STARTS: usize = 11;
/// The first starts of each binary are cold when the page cache can be dropped.
const COLD_STARTS: usize = 3;
const MEMORY_RUNS: usize = 3;
const IDLE: Duration = Duration::from_secs(10);

struct Screen {
    conn: RustConnection,
    root: u32,
    width: u16,
}

impl Screen {
    fn connect() -> Self {
        let (conn, n) =
            x11rb::connect(None).expect("no X display: run under xvfb-run (scripts/bench.sh does)");
        let screen = &conn.setup().roots[n];
        let (root, width) = (screen.root, screen.width_in_pixels);
        Self { conn, root, width }
    }

    /// Distinct pixel values in the top band, counting up to `cap`.
    fn colours(&self, cap: usize) -> usize {
        let image = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                0,
                0,
                self.width,
                BAND_HEIGHT,
                !0,
            )
            .unwrap()
            .reply()
            .unwrap();
        let mut seen: Vec<&[u8]> = Vec::with_capacity(cap);
        for pixel in image.data.chunks_exact(4) {
            if !seen.contains(&pixel) {
                seen.push(pixel);
                if seen.len() >= cap {
                    break;
                }
            }
        }
        seen.len()
    }
}

fn spawn(binary: &Path, data: &Path, env: &[(String, String)]) -> Child {
    Command::new(binary)
        .env("LATCHKEY_DATA_DIR", data)
        .env("XDG_DATA_HOME", data)
        .env("RUST_LOG", "warn")
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The process and all its descendants (WebKit's helpers may sit under a sandbox launcher).
fn tree(root: u32) -> Vec<u32> {
    let mut parent = HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        {
            parent.insert(pid, ppid);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// (RSS, PSS) in KiB from /proc/PID/smaps_rollup.
fn memory(pid: u32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return (0, 0);
    };
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

/// Kills the process and its descendants, by PID (never a process group or a negative number:
/// `kill -9 -N` parsing differs between implementations, and `-1` means "everything").
fn stop(mut child: Child) {
    for pid in tree(child.id()).into_iter().skip(1).rev() {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for_blank(screen: &Screen) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while screen.colours(PAINTED_COLOURS) >= PAINTED_COLOURS && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
}

/// Drops the page cache when allowed (root), so "cold" means the binaries and WebKit's libraries
/// come from disk. Returns whether it could.
fn drop_caches() -> bool {
    if std::env::var_os("BENCH_DROP_CACHES").is_none_or(|v| v != "1") {
        return false;
    }
    // Writing dirty pages first makes the drop complete.
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// Spawn → first paint, `STARTS` times each, alternating the two binaries; the first
/// `COLD_STARTS` of each come after dropping the page cache (when allowed), the rest are warm.
/// Returns (cold, warm) times per binary.
fn starts(
    screen: &Screen,
    binaries: &[(&str, &Path)],
    env: &[(String, String)],
) -> Vec<(Vec<Duration>, Vec<Duration>)> {
    let mut results: Vec<(Vec<Duration>, Vec<Duration>)> =
        binaries.iter().map(|_| (Vec::new(), Vec::new())).collect();
    for run in 0..STARTS {
        for (i, (name, binary)) in binaries.iter().enumerate() {
            wait_for_blank(screen);
            let cold = run < COLD_STARTS && drop_caches();
            let data = tempfile::tempdir().unwrap();
            let start = Instant::now();
            let child = spawn(binary, data.path(), env);
            let painted = loop {
                if screen.colours(PAINTED_COLOURS) >= PAINTED_COLOURS {
                    break Some(start.elapsed());
                }
                if start.elapsed() > PAINT_TIMEOUT {
                    break None;
                }
                std::thread::sleep(POLL);
            };
            stop(child);
            let Some(painted) = painted else {
                println!("  {name}: no paint within {PAINT_TIMEOUT:?} (run {run})");
                continue;
            };
            if cold {
                results[i].0.push(painted);
            } else if run >= COLD_STARTS {
                results[i].1.push(painted);
            }
        }
    }
    results
}

/// (RSS, PSS, processes, where the PSS is) of the tree after `IDLE`, median of `MEMORY_RUNS` by
/// PSS.
fn idle_memory(binary: &Path, env: &[(String, String)]) -> (u64, u64, usize, Breakdown) {
    let mut samples = Vec::new();
    for _ in 0..MEMORY_RUNS {
        let data = tempfile::tempdir().unwrap();
        let child = spawn(binary, data.path(), env);
        std::thread::sleep(IDLE);
        let pids = tree(child.id());
        let (rss, pss) = pids
            .iter()
            .map(|p| memory(*p))
            .fold((0, 0), |a, m| (a.0 + m.0, a.1 + m.1));
        let mut breakdown = Breakdown::new();
        for (i, pid) in pids.iter().enumerate() {
            memory::add_process(&mut breakdown, *pid, i == 0);
        }
        samples.push((pss, rss, pids.len(), breakdown));
        stop(child);
    }
    samples.sort_by_key(|s| s.0);
    let (pss, rss, n, breakdown) = samples.swap_remove(samples.len() / 2);
    (rss, pss, n, breakdown)
}

fn mib_kib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Prints the app figures. `env` configures the app (the dev IdP's issuer and client).
pub fn figures(app: &Path, reference: &Path, env: &[(String, String)]) {
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let (app_size, ref_size) = (size(app), size(reference));
    let mb = |b: u64| format!("{:.1} MB ({:.1} MiB)", b as f64 / 1e6, b as f64 / 1048576.0);
    println!("the app vs a minimal Tauri window (same plugins, same release profile, same run):");
    println!(
        "  release binary, stripped: app {}, minimal window {} ({:.2}x, +{}); target <= minimal + 3 MB: {}",
        mb(app_size),
        mb(ref_size),
        app_size as f64 / ref_size as f64,
        mb(app_size.saturating_sub(ref_size)),
        if app_size <= ref_size + 3_000_000 {
            "met"
        } else {
            "NOT met"
        }
    );

    let screen = Screen::connect();
    let binaries = [("app", app), ("minimal window", reference)];
    let results = starts(&screen, &binaries, env);
    let summary = |v: &[Duration], missing: &str| {
        if v.is_empty() {
            missing.to_owned()
        } else {
            format!("{} (median of {})", ms(median(v.to_vec())), v.len())
        }
    };
    for ((name, _), (cold, warm)) in binaries.iter().zip(&results) {
        println!(
            "  start to first paint (Xvfb), {name}: cold cache {}, warm {}",
            summary(cold, "n/a (set BENCH_DROP_CACHES=1 as root)"),
            summary(warm, "n/a")
        );
    }
    for (label, pick) in [("cold", 0usize), ("warm", 1usize)] {
        let of = |i: usize| {
            let v = if pick == 0 {
                &results[i].0
            } else {
                &results[i].1
            };
            (!v.is_empty()).then(|| median(v.clone()))
        };
        if let (Some(a), Some(r)) = (of(0), of(1)) {
            println!(
                "  start to first paint, {label}: {:.2}x the minimal window (+{})",
                a.as_secs_f64() / r.as_secs_f64(),
                ms(a.saturating_sub(r))
            );
        }
    }

    let (a_rss, a_pss, a_n, a_where) = idle_memory(app, env);
    let (r_rss, r_pss, r_n, r_where) = idle_memory(reference, env);
    println!(
        "  memory after {}s idle, whole process tree (median of {MEMORY_RUNS}):",
        IDLE.as_secs()
    );
    println!(
        "    app:            PSS {}, RSS {} ({a_n} processes)",
        mib_kib(a_pss),
        mib_kib(a_rss)
    );
    println!(
        "    minimal window: PSS {}, RSS {} ({r_n} processes)",
        mib_kib(r_pss),
        mib_kib(r_rss)
    );
    println!(
        "    app - minimal window: PSS +{} ({:.2}x); target <= +20 MiB: {}",
        mib_kib(a_pss.saturating_sub(r_pss)),
        a_pss as f64 / r_pss.max(1) as f64,
        if a_pss <= r_pss + 20 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "    (smaps, same runs: app {}, minimal window {})",
        mib_kib(memory::total(&a_where)),
        mib_kib(memory::total(&r_where))
    );
    memory::print_difference(&a_where, &r_where);
}
