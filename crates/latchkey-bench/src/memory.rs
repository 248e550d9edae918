//! What a process tree's memory is: PSS read from `/proc/PID/smaps`, by process (the app's own
//! process, WebKit's web and network processes) and by what each mapping holds (the process's
//! own executable, anonymous memory, shared libraries, other files). The app and the minimal
//! window run the same WebKit, so the difference between their breakdowns says where the app's
//! extra MiB are.

use std::collections::BTreeMap;

/// What a mapping holds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Holds {
    /// The process's own executable (code, read-only data, relocations).
    Executable,
    /// Anonymous memory: malloc's heap and arenas, stacks, JavaScriptCore's heap and JIT.
    Anonymous,
    /// Shared libraries (`*.so*`): WebKitGTK, GTK, GLib, ICU…
    SharedLibraries,
    /// Other files and special mappings: fonts, caches, memfd and shm buffers, vdso.
    OtherFiles,
}

impl Holds {
    pub fn label(self) -> &'static str {
        match self {
            Holds::Executable => "its executable",
            Holds::Anonymous => "anonymous (heap, stacks, JS heap)",
            Holds::SharedLibraries => "shared libraries",
            Holds::OtherFiles => "other files and buffers",
        }
    }

    fn of(path: &str, executable: &str) -> Self {
        if path.is_empty() || path == "[heap]" || path.starts_with("[stack") || path == "[anon]" {
            Holds::Anonymous
        } else if !executable.is_empty() && path == executable {
            Holds::Executable
        } else if path.contains(".so") {
            Holds::SharedLibraries
        } else {
            Holds::OtherFiles
        }
    }
}

/// PSS in KiB by (process, what the mapping holds). The root process is named `"app process"`
/// whatever its binary, so the app's and the minimal window's breakdowns line up; the others by
/// their command name.
pub type Breakdown = BTreeMap<(String, Holds), u64>;

/// Adds one process's mappings to `into`.
pub fn add_process(into: &mut Breakdown, pid: u32, is_root: bool) {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return;
    };
    let name = if is_root {
        "app process".to_owned()
    } else {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned())
    };
    let executable = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (holds, kib) in parse(&smaps, &executable) {
        *into.entry((name.clone(), holds)).or_insert(0) += kib;
    }
}

/// (what, PSS KiB) for each mapping in an smaps text.
fn parse(smaps: &str, executable: &str) -> Vec<(Holds, u64)> {
    let mut out = Vec::new();
    let mut current: Option<Holds> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.ends_with(':') {
            if first == "Pss:" {
                if let (Some(holds), Some(kib)) =
                    (current, fields.next().and_then(|v| v.parse::<u64>().ok()))
                {
                    out.push((holds, kib));
                }
            }
            continue;
        }
        // A mapping header: address perms offset dev inode [path, which may contain spaces].
        if first.contains('-') && line.split_whitespace().count() >= 5 {
            let path = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ");
            let path = path.trim_end_matches(" (deleted)");
            current = Some(Holds::of(path, executable));
        }
    }
    out
}

/// Sum of a breakdown.
pub fn total(b: &Breakdown) -> u64 {
    b.values().sum()
}

/// Prints app, reference and difference per row, largest difference first, rows under 0.5 MiB
/// on both sides left out.
pub fn print_difference(app: &Breakdown, reference: &Breakdown) {
    let mut keys: Vec<&(String, Holds)> = app.keys().chain(reference.keys()).collect();
    keys.sort();
    keys.dedup();
    let get = |b: &Breakdown, k: &(String, Holds)| b.get(k).copied().unwrap_or(0);
    let mut rows: Vec<(i64, &(String, Holds))> = keys
        .into_iter()
        .filter(|k| get(app, k).max(get(reference, k)) >= 512)
        .map(|k| (get(app, k) as i64 - get(reference, k) as i64, k))
        .collect();
    rows.sort_by_key(|(d, _)| -d.abs());
    println!("    where the PSS is (app / minimal window / difference, MiB):");
    for (d, k) in rows {
        println!(
            "      {:<22} {:<34} {:>7.1} {:>7.1} {:>+7.1}",
            k.0,
            k.1.label(),
            get(app, k) as f64 / 1024.0,
            get(reference, k) as f64 / 1024.0,
            d as f64 / 1024.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mapping_is_counted_once_under_what_it_holds() {
        let smaps = "\
55d0a000-55d0b000 r-xp 00000000 fe:01 123   /opt/app/latchkey-app
Rss:                 400 kB
Pss:                 300 kB
55d0c000-55d0d000 rw-p 00000000 00:00 0     [heap]
Pss:                 1000 kB
7f00-7f01 rw-p 00000000 00:00 0
Pss:                   20 kB
7f02-7f03 r-xp 00000000 fe:01 456   /usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0.13.2
Pss:                 5000 kB
7f04-7f05 r--p 00000000 fe:01 789   /usr/share/fonts/truetype/dejavu/DejaVu Sans.ttf
Pss:                   7 kB
7f06-7f07 rw-s 00000000 00:01 42    /memfd:wayland-shm (deleted)
Pss:                    3 kB
";
        let got = parse(smaps, "/opt/app/latchkey-app");
        assert_eq!(
            got,
            vec![
                (Holds::Executable, 300),
                (Holds::Anonymous, 1000),
                (Holds::Anonymous, 20),
                (Holds::SharedLibraries, 5000),
                (Holds::OtherFiles, 7),
                (Holds::OtherFiles, 3),
            ]
        );
    }
}
