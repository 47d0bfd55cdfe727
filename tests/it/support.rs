//! What the integration tests share: running the real binary, a daemon under test with its own
//! folders, an HTTP client, polling with deadlines, and reading /proc.

#![allow(clippy::disallowed_methods)] // tests start the binary under test

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hoody_daemon::cli::client::{Client, Endpoint};
use serde_json::Value;

/// The binary under test, built by cargo for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hoody-daemon"))
}

/// The repository's root, for the example folders it ships.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run hoody-daemon {args:?}: {error}"))
}

/// What a finished command said, for failure messages.
pub fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "hoody-daemon {args:?} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; panics with `what` and the
/// last thing `describe` says.
pub fn wait_until(
    what: &str,
    seconds: u64,
    mut condition: impl FnMut() -> bool,
    describe: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !condition() {
        if Instant::now() > deadline {
            panic!(
                "timed out after {seconds} s waiting for {what}\n{}",
                describe()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_until`] for work whose length is what CPU a loaded machine gives it (a gigabyte
/// through a pipe): it fails only when `progress` (any measure of the work, such as a log's
/// size) has stayed the same for `seconds`, a stall. Slow but steady work is waited for.
pub fn wait_while_progressing<P: PartialEq>(
    what: &str,
    seconds: u64,
    mut progress: impl FnMut() -> P,
    mut condition: impl FnMut() -> bool,
    describe: impl Fn() -> String,
) {
    let mut seen = progress();
    let mut deadline = Instant::now() + Duration::from_secs(seconds);
    while !condition() {
        let now = progress();
        if now != seen {
            seen = now;
            deadline = Instant::now() + Duration::from_secs(seconds);
        }
        if Instant::now() > deadline {
            panic!(
                "no progress for {seconds} s waiting for {what}\n{}",
                describe()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A daemon started for one test, with its own programs.d, state and log folders.
pub struct TestDaemon {
    child: Option<Child>,
    /// Holds the folders; they are removed when the daemon under test is dropped.
    pub root: tempfile::TempDir,
    pub programs: PathBuf,
    pub state: PathBuf,
    pub logs: PathBuf,
    pub client: Client,
    stderr: PathBuf,
    extra: Vec<String>,
    token: Option<String>,
    /// A soft limit on open files to start the daemon with (its hard limit is left alone).
    open_files: Option<u64>,
}

impl TestDaemon {
    pub fn start() -> TestDaemon {
        TestDaemon::start_with(&[], None)
    }

    /// Starts with extra `serve` arguments and, optionally, a token in the environment.
    pub fn start_with(extra: &[&str], token: Option<&str>) -> TestDaemon {
        let root = tempfile::tempdir().expect("tempdir");
        let programs = root.path().join("programs.d");
        fs::create_dir(&programs).expect("programs.d");
        TestDaemon::start_in(root, extra, token)
    }

    /// Starts on an existing folder layout (`programs.d` inside `root`).
    pub fn start_in(root: tempfile::TempDir, extra: &[&str], token: Option<&str>) -> TestDaemon {
        let mut daemon = TestDaemon::new_in(root, extra, token);
        daemon.launch();
        daemon
    }

    /// Starts on an existing folder layout with the soft limit on open files lowered to
    /// `soft`, as a service manager or a container runtime may start it.
    pub fn start_with_open_files(root: tempfile::TempDir, soft: u64) -> TestDaemon {
        let mut daemon = TestDaemon::new_in(root, &[], None);
        daemon.open_files = Some(soft);
        daemon.launch();
        daemon
    }

    fn new_in(root: tempfile::TempDir, extra: &[&str], token: Option<&str>) -> TestDaemon {
        let programs = root.path().join("programs.d");
        let state = root.path().join("state");
        let logs = root.path().join("logs");
        // A test may bring its own log folder (`--log-dir DIR` in `extra`).
        let logs = extra
            .iter()
            .position(|arg| *arg == "--log-dir")
            .and_then(|index| extra.get(index + 1))
            .map_or(logs, PathBuf::from);
        TestDaemon {
            child: None,
            stderr: root.path().join("daemon.log"),
            root,
            programs,
            state,
            logs,
            client: Client::new(
                Endpoint::Tcp("127.0.0.1:1".into()),
                token.map(str::to_string),
            ),
            extra: extra.iter().map(|arg| arg.to_string()).collect(),
            token: token.map(str::to_string),
            open_files: None,
        }
    }

    fn launch(&mut self) {
        self.spawn_daemon();
        if let Err(exit) = self.wait_listening() {
            panic!("the daemon did not start: {exit}\n{}", self.log());
        }
    }

    fn spawn_daemon(&mut self) {
        let _ = fs::remove_file(self.state.join("api.address"));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .expect("daemon log");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--programs-dir")
            .arg(&self.programs)
            .arg("--state-dir")
            .arg(&self.state)
            .args(if self.extra.iter().any(|arg| arg == "--log-dir") {
                vec![]
            } else {
                vec!["--log-dir".as_ref(), self.logs.as_os_str()]
            })
            .args(if self.extra.iter().any(|arg| arg == "--listen") {
                vec![]
            } else {
                vec!["--listen", "127.0.0.1:0"]
            })
            .args(&self.extra)
            .env("HOODY_DAEMON_LOG", "debug")
            .env_remove("HOODY_DAEMON_TOKEN")
            .stdin(Stdio::null())
            .stdout(
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.stdout_path())
                    .expect("daemon stdout"),
            )
            .stderr(log);
        if let Some(token) = &self.token {
            command.env("HOODY_DAEMON_TOKEN", token);
        }
        if let Some(soft) = self.open_files {
            // SAFETY (test): only setrlimit, async-signal-safe, between fork and exec.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                    let (_, hard) =
                        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        soft.min(hard),
                        hard,
                    )?;
                    Ok(())
                });
            }
        }
        self.child = Some(command.spawn().expect("start hoody-daemon"));
    }

    /// Waits until the daemon just launched listens (it wrote `api.address`) and points the
    /// client at it; an error when it exits first (with its exit status).
    fn wait_listening(&mut self) -> Result<(), String> {
        let address = self.state.join("api.address");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if fs::read_to_string(&address).is_ok_and(|text| text.ends_with('\n')) {
                break;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("it exited ({status}) before it listened"));
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after 20 s waiting for the daemon to listen\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let url = fs::read_to_string(&address).expect("address");
        self.client.endpoint = Endpoint::parse(url.trim()).expect("address");
        Ok(())
    }

    /// Starts the daemon again on the same folders; an error (with the daemon's exit status)
    /// when it exits instead of listening.
    pub fn try_restart(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "restart after terminate or kill9");
        self.spawn_daemon();
        self.wait_listening()
    }

    /// Where the daemon's stdout goes (empty unless `--log-console` copies programs there).
    pub fn stdout_path(&self) -> PathBuf {
        self.root.path().join("daemon.stdout")
    }

    /// The daemon's stdout so far.
    pub fn stdout_text(&self) -> String {
        fs::read_to_string(self.stdout_path()).unwrap_or_default()
    }

    /// The daemon's stderr so far, whole (its own log, and `--log-console`'s stderr lines).
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The daemon's own log so far.
    pub fn log(&self) -> String {
        let text = fs::read_to_string(&self.stderr).unwrap_or_default();
        let start = text.len().saturating_sub(12_000);
        let start = (start..text.len())
            .find(|index| text.is_char_boundary(*index))
            .unwrap_or(0);
        format!("--- daemon log (tail)\n{}", &text[start..])
    }

    /// Whether the daemon's whole log (every run on these folders) holds `text`.
    pub fn log_contains(&self, text: &str) -> bool {
        fs::read_to_string(&self.stderr).is_ok_and(|log| log.contains(text))
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let path = format!("/api/v1/daemon{path}");
        match self.client.request(method, &path, body, &[]) {
            Ok(response) => (response.status, response.json()),
            Err(error) => panic!("{method} {path}: {error}\n{}", self.log()),
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.request("POST", path, body.as_ref())
    }

    /// `data.status` of one program (`Value::Null` when unknown).
    pub fn status(&self, name: &str) -> Value {
        let (_, body) = self.get(&format!("/status/{name}"));
        body["data"]["status"].clone()
    }

    pub fn state_of(&self, name: &str) -> String {
        self.status(name)["status"]
            .as_str()
            .unwrap_or("UNKNOWN")
            .to_string()
    }

    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.status(name)["pid"]
            .as_u64()
            .and_then(|pid| u32::try_from(pid).ok())
    }

    /// Waits until the program's status satisfies `condition`, and returns that status.
    pub fn wait_status(&self, name: &str, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        wait_until(
            &format!("{name}: {what}"),
            30,
            || {
                last = self.status(name);
                condition(&last)
            },
            || {
                format!(
                    "last status of {name}: {}\n{}",
                    self.status(name),
                    self.log()
                )
            },
        );
        last
    }

    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_status(name, state, |status| status["status"] == state)
    }

    /// Writes a program file the way a careful tool does: a temp file, then a rename.
    pub fn put(&self, file: &str, text: &str) {
        let temp = self.programs.join(format!(".{file}.tmp"));
        fs::write(&temp, text).expect("write program file");
        fs::rename(&temp, self.programs.join(file)).expect("rename program file");
    }

    pub fn remove(&self, file: &str) {
        fs::remove_file(self.programs.join(file)).expect("remove program file");
    }

    /// Sends SIGTERM and waits for the daemon to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        signal(child.id(), nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the daemon did not stop within 30 s of SIGTERM\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kill -9 of the daemon: its programs stay behind, as after a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the daemon again on the same folders.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart after terminate or kill9");
        self.launch();
    }

    /// The pids of the daemon's programs recorded in its state folder.
    fn recorded_pids(&self) -> Vec<u32> {
        let text = fs::read_to_string(self.state.join("running.json")).unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        value
            .as_object()
            .map(|map| {
                map.values()
                    .filter_map(|record| record["pid"].as_u64())
                    .filter_map(|pid| u32::try_from(pid).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestDaemon {
    /// Stops the daemon and so its programs; if that fails, kills what it recorded, by pid.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.recorded_pids() {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        remove_cgroups(&self.state);
    }
}

/// Ends everything in the cgroup tree a daemon recorded in its state folder and removes it:
/// after a kill -9 (or a daemon that could not clean up) the tree would stay on the host.
pub fn remove_cgroups(state: &Path) {
    if let Some(tree) = hoody_daemon::supervisor::cgroup::Cgroups::recorded(state)
        && !tree.close(Duration::from_secs(10))
    {
        eprintln!("could not remove the cgroup {}", tree.path().display());
    }
}

pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    }
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The command line of a process, words joined by spaces.
pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|byte| *byte == 0)
                .filter(|word| !word.is_empty())
                .map(|word| String::from_utf8_lossy(word).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Every pid in /proc.
pub fn all_pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
        })
        .collect()
}

/// Live processes whose command line is exactly `line`.
pub fn processes_running(line: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| alive(*pid) && cmdline(*pid) == line)
        .collect()
}

/// A unique number for commands, so a test can find its own processes in /proc.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = u64::from(std::process::id()) * 1000;
    100_000_000 + base + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs the binary as a client of the daemon at `url`, with no token or URL from the
/// environment and no terminal (so no colour).
pub fn run_client(url: &str, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("--url")
        .arg(url)
        .args(args)
        .env_remove("HOODY_DAEMON_URL")
        .env_remove("HOODY_DAEMON_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run hoody-daemon {args:?}: {error}"))
}

/// A TCP port nothing listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl TestDaemon {
    /// The daemon's address as `--url` takes it.
    pub fn url(&self) -> String {
        self.client.endpoint.to_string()
    }

    /// Runs the CLI against this daemon (with its token, if it has one).
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut command = Command::new(binary());
        command
            .arg("--url")
            .arg(self.url())
            .args(args)
            .env_remove("HOODY_DAEMON_URL")
            .env_remove("HOODY_DAEMON_TOKEN")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(token) = &self.token {
            command.env("HOODY_DAEMON_TOKEN", token);
        }
        command
            .output()
            .unwrap_or_else(|error| panic!("cannot run hoody-daemon {args:?}: {error}"))
    }
}

/// CPU seconds (user + system) a process has used itself, children not included.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command: field 3 is index 0, so utime (14) is 11 and stime (15) is 12.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|index| fields.get(*index)?.parse::<u64>().ok())
        .sum();
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100);
    ticks as f64 / per_second as f64
}

/// A `Vm…` line of /proc/PID/status (VmRSS, VmHWM) in KiB.
pub fn vm_kib(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift), seeded from the clock and printed, so a failing
/// run can be replayed with `HOODY_TEST_SEED`.
pub struct Random(u64);

impl Random {
    pub fn new(what: &str) -> Random {
        let seed = std::env::var("HOODY_TEST_SEED")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|since| since.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("{what}: HOODY_TEST_SEED={seed}");
        Random(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// Held by the tests that load the machine on purpose (crash storms, spawn churn) for their
/// whole run: two of them at once on 2 cores starved each other's daemons past their timing
/// (a start judged by `startsecs` a second late).
pub fn storm() -> std::sync::MutexGuard<'static, ()> {
    static STORM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    STORM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the long (soak) variants run: `HOODY_SOAK=1`.
pub fn soak() -> bool {
    std::env::var("HOODY_SOAK").is_ok_and(|value| value == "1")
}
