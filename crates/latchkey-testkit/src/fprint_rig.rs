//! A real Linux fingerprint stack for tests, each daemon a child process: a private system bus
//! (`dbus-daemon`), python-dbusmock's `polkitd` allowing fprintd's verify/enroll actions,
//! `fprintd` with libfprint's virtual reader (`FP_VIRTUAL_DEVICE`), and a private session bus
//! with `gnome-keyring-daemon` (the Secret Service, a login keyring unlocked with a password).
//!
//! The reader is driven through its socket: [`FprintRig::scan`] places a finger (`SCAN <id>`: a
//! match when `<id>` was enrolled, no match otherwise). Everything is stopped, by PID, on drop.
//! Needs Debian's `dbus`, `fprintd`, `libfprint-2-2`, `python3-dbusmock`, `gnome-keyring`
//! (`scripts/deps.sh`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a daemon may take to appear on its bus.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The running rig.
pub struct FprintRig {
    dir: tempfile::TempDir,
    children: Vec<Child>,
    system_bus: String,
    session_bus: String,
}

/// The finger id the rig enrols (`SCAN good` matches, anything else does not).
pub const GOOD: &str = "good";

/// Whether the programs the rig runs are installed.
pub fn available() -> bool {
    [
        "/usr/libexec/fprintd",
        "/usr/bin/dbus-daemon",
        "/usr/bin/gnome-keyring-daemon",
        "/usr/bin/fprintd-enroll",
    ]
    .iter()
    .all(|p| Path::new(p).exists())
        && Command::new("/usr/bin/python3")
            .args(["-c", "import dbusmock"])
            .status()
            .is_ok_and(|s| s.success())
}

fn bus_config(dir: &Path, kind: &str) -> PathBuf {
    let path = dir.join(format!("{kind}.conf"));
    let listen = dir.join(format!("{kind}-bus"));
    std::fs::create_dir_all(&listen).unwrap();
    std::fs::write(
        &path,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"#,
            listen.display()
        ),
    )
    .unwrap();
    path
}

impl FprintRig {
    /// Starts everything and enrols [`GOOD`] as the current user's right index finger.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("latchkey-fprint-")
            .tempdir()
            .unwrap();
        let mut rig = Self {
            children: Vec::new(),
            system_bus: String::new(),
            session_bus: String::new(),
            dir,
        };
        rig.system_bus = rig.start_bus("system");
        rig.session_bus = rig.start_bus("session");
        rig.start_polkit();
        rig.start_fprintd();
        rig.start_keyring();
        rig.enrol();
        rig
    }

    /// The private system bus (for [`latchkey::vault::Fprintd::on_bus`]).
    pub fn system_bus(&self) -> &str {
        &self.system_bus
    }

    /// The private session bus with the Secret Service.
    pub fn session_bus(&self) -> &str {
        &self.session_bus
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn socket(&self) -> PathBuf {
        self.path("virtual-reader.sock")
    }

    fn start_bus(&mut self, kind: &str) -> String {
        let config = bus_config(self.dir.path(), kind);
        let mut child = Command::new("/usr/bin/dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.children.push(child);
        line.trim().to_owned()
    }

    fn spawn(&mut self, cmd: &mut Command, log: &str) {
        let log = std::fs::File::create(self.path(log)).unwrap();
        let child = cmd
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.system_bus)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.session_bus)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push(child);
    }

    /// `dbus-send` on the private system bus; true when the call succeeded.
    fn system_call(&self, args: &[&str]) -> bool {
        Command::new("/usr/bin/dbus-send")
            .arg(format!("--bus={}", self.system_bus))
            .arg("--print-reply")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            assert!(
                start.elapsed() < READY_WITHIN,
                "{what} did not come up; logs in {}",
                self.dir.path().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn start_polkit(&mut self) {
        self.spawn(
            Command::new("/usr/bin/python3").args([
                "-m",
                "dbusmock",
                "--system",
                "--template",
                "polkitd",
            ]),
            "polkitd.log",
        );
        let allowed = "array:string:net.reactivated.fprint.device.verify,net.reactivated.fprint.device.enroll,net.reactivated.fprint.device.setusername";
        self.wait_for("the polkitd mock", || {
            self.system_call(&[
                "--dest=org.freedesktop.PolicyKit1",
                "/org/freedesktop/PolicyKit1/Authority",
                "org.freedesktop.DBus.Mock.SetAllowed",
                allowed,
            ])
        });
    }

    fn start_fprintd(&mut self) {
        let state = self.path("fprint-state");
        std::fs::create_dir_all(&state).unwrap();
        let socket = self.socket();
        self.spawn(
            Command::new("/usr/libexec/fprintd")
                .arg("-t")
                .env("STATE_DIRECTORY", &state)
                .env("FP_DRIVERS_ALLOWLIST", "virtual_device")
                .env("FP_VIRTUAL_DEVICE", &socket),
            "fprintd.log",
        );
        self.wait_for("fprintd", || {
            self.system_call(&[
                "--dest=net.reactivated.Fprint",
                "/net/reactivated/Fprint/Manager",
                "net.reactivated.Fprint.Manager.GetDefaultDevice",
            ])
        });
    }

    fn start_keyring(&mut self) {
        for d in ["home", "data", "runtime"] {
            std::fs::create_dir_all(self.path(d)).unwrap();
        }
        let mut child = Command::new("/usr/bin/gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.session_bus)
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("runtime"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("keyring.log")).unwrap())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"login-password").unwrap();
        drop(stdin);
        self.children.push(child);
        let session = self.session_bus.clone();
        self.wait_for("gnome-keyring-daemon", || {
            Command::new("/usr/bin/dbus-send")
                .arg(format!("--bus={session}"))
                .args([
                    "--print-reply",
                    "--dest=org.freedesktop.secrets",
                    "/org/freedesktop/secrets/aliases/default",
                    "org.freedesktop.DBus.Properties.Get",
                    "string:org.freedesktop.Secret.Collection",
                    "string:Locked",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    }

    /// Sends one command to the virtual reader, waiting until it listens (it does while fprintd
    /// has the device open: from `Claim` to `Release`).
    pub fn send(&self, command: &str) {
        let socket = self.socket();
        let start = Instant::now();
        loop {
            if let Ok(mut stream) = UnixStream::connect(&socket) {
                stream.write_all(command.as_bytes()).unwrap();
                return;
            }
            assert!(
                start.elapsed() < READY_WITHIN,
                "the virtual reader never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Places finger `id` on the reader (from another thread while a verification waits).
    pub fn scan(&self, id: &str) {
        self.send(&format!("SCAN {id}"));
    }

    /// Enrols [`GOOD`] as the current user's right index finger with `fprintd-enroll`.
    pub fn enrol(&self) {
        // Line-buffered, so each stage is seen as it passes; a scan is placed when the reader
        // waits for one (commands sent before enrolment starts are not used for it).
        let mut enroll = Command::new("stdbuf")
            .args(["-oL", "/usr/bin/fprintd-enroll", "-f", "right-index-finger"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.system_bus)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(enroll.stdout.take().unwrap());
        for line in out.lines() {
            let line = line.unwrap();
            if line.starts_with("Enrolling") || line.contains("enroll-stage-passed") {
                self.scan(GOOD);
            }
        }
        assert!(enroll.wait().unwrap().success(), "fprintd-enroll failed");
    }

    /// What another program of the user finds in the Secret Service, asking with `dbus-send` on
    /// the rig's session bus (no finger, no PIN): the object paths of every item in the default
    /// collection (the login keyring) and of every item `SearchItems` finds for
    /// `application=latchkey` (what `secret-tool search application latchkey` asks).
    pub fn keyring_items_another_program_finds(&self) -> Vec<String> {
        let ask = |args: &[&str]| {
            let out = Command::new("/usr/bin/dbus-send")
                .arg(format!("--bus={}", self.session_bus))
                .args(["--print-reply", "--dest=org.freedesktop.secrets"])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "dbus-send to the Secret Service failed"
            );
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|l| l.trim().strip_prefix("object path "))
                .map(|p| p.trim_matches('"').to_owned())
                .filter(|p| p != "/")
                .collect::<Vec<_>>()
        };
        let mut found = ask(&[
            "/org/freedesktop/secrets/aliases/default",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Items",
        ]);
        found.extend(ask(&[
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.SearchItems",
            "dict:string:string:application,latchkey",
        ]));
        found.sort();
        found.dedup();
        found
    }

    /// Deletes the current user's enrolled fingers (`fprintd-delete`).
    pub fn remove_enrolment(&self) {
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let status = Command::new("/usr/bin/fprintd-delete")
            .arg(user.trim())
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.system_bus)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "fprintd-delete failed");
    }
}

impl Drop for FprintRig {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
