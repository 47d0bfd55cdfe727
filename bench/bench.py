#!/usr/bin/env python3
"""hoody-daemon's benchmark suite: the same scenarios on hoody-daemon, supervisord, PM2 and horust.

Run it as `bench/run` (see that file and docs/PERFORMANCE.md). Standard library only; the peers
are installed into bench/.peers/ with pip (a venv), npm and `cargo install`.

Rules the suite keeps:
- every wait is bounded; every load is bounded in count and time and goes to 127.0.0.1 only;
- it ends only processes it started: the managers by pid / their own process group, and, after a
  manager has stopped, any program process still alive whose pid it recorded *and* whose command
  line still names this run's private folder (so a reused pid is never hit);
- its temp folder is removed at the end, whatever happens.

The programs are `stamp` (bench/stamp.c, compiled here with cc): it appends "PID NS" (wall clock)
to a file as its first action and then sleeps in pause(), so "exec'd and running" is read from
that file, the same way for every manager; in producer mode it writes N bytes to stdout as fast
as it can (128 KiB writes) and notes when it began.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = HERE / ".peers"
RESULTS = HERE / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30
# The rotating log rows (hoody-daemon and supervisord): the daemon's default file size, and enough
# backups to keep every byte of the run, so "the files hold every byte" can be checked.
ROTATE_MAXBYTES = "50MB"
ROTATE_BACKUPS = 30
# A manager that needs longer than this (seconds) for one run of a scenario is run once.
SLOW = 30.0
# Fleets this big are started once per manager, and a manager not done after BIG_FLEET_TIMEOUT
# seconds is left there (shown as "over 2 min").
BIG_FLEET = 10_000
BIG_FLEET_TIMEOUT = 120.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- /proc readings ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the process (all its threads), in seconds."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kib(pid: int) -> tuple[int, int, int] | None:
    """(RSS, PSS, anonymous) in KiB from smaps_rollup."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:", "Anonymous:"):
            values[parts[0]] = int(parts[1])
    return values.get("Rss:", 0), values.get("Pss:", 0), values.get("Anonymous:", 0)


def context_switches(pid: int) -> int | None:
    """Voluntary + involuntary context switches summed over every thread of the process."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# ---- small statistics ----------------------------------------------------------------------------


def median(values):
    return statistics.median(values) if values else None


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class Figures(dict):
    """name → Figure, made on first use."""

    def __missing__(self, key):
        self[key] = Figure()
        return self[key]


@dataclass
class Figure:
    """Repeated measurements of one quantity."""

    values: list = field(default_factory=list)
    note: str = ""

    def add(self, value):
        if value is not None:
            self.values.append(value)

    @property
    def median(self):
        return median(self.values)

    def to_json(self):
        return {"values": self.values, "median": self.median, "note": self.note}


# ---- the run's private folder and stamp files ----------------------------------------------------


class Run:
    def __init__(self, args):
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="hoody-bench-"))
        self.stamp = self.root / "bin" / "stamp"
        self.counter = 0
        self.stamp_kind = "?"
        self.program_pids: set[int] = set()

    def fresh(self, label: str) -> Path:
        self.counter += 1
        path = self.root / f"{self.counter:03d}-{label}"
        path.mkdir(parents=True)
        return path

    def remember_pids(self, stamp_file: Path) -> None:
        for line in read_lines(stamp_file):
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                self.program_pids.add(int(parts[0]))
            elif len(parts) == 2 and parts[0] == "ready":
                self.program_pids.add(int(parts[1]))

    def end_leftovers(self) -> int:
        """SIGKILLs recorded program pids that still run *this run's* stamp."""
        ended = 0
        marker = str(self.root)
        for pid in sorted(self.program_pids):
            if alive(pid) and marker in cmdline(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                    ended += 1
                except ProcessLookupError:
                    pass
        self.program_pids.clear()
        return ended

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except OSError:
        return 0


def wait_for(predicate, timeout: float, interval: float = 0.002):
    """Polls until predicate() is truthy; returns its value, or None after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


IN_MODIFY = 0x2


class Growth:
    """Waits for a file to be written without polling it: an inotify watch (through ctypes) on
    the file, made before the action that makes it grow (`with Growth(path) as growth: kill;
    growth.wait(predicate, timeout)`). The waiting script then takes no CPU until the program
    has written its line, where a poll every 0.2 ms woke it 5,000 times a second on the same two
    cores as the manager and the program it measures (a wake-up here costs about 45 µs of a
    CPU; see docs/PERFORMANCE.md, "Restart after kill -9"). Where inotify is missing, or with
    `poll=True` (`--restart-poll`: the method of the runs before), it polls every 0.2 ms as
    before. The figure itself is the program's own timestamp either way."""

    def __init__(self, path: Path, poll: bool = False):
        self.path = path
        self.fd = -1
        if poll:
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
            if fd >= 0 and libc.inotify_add_watch(fd, os.fsencode(str(path)), IN_MODIFY) < 0:
                os.close(fd)
                fd = -1
            self.fd = fd
        except (OSError, AttributeError):
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *_):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def wait(self, predicate, timeout: float):
        if self.fd < 0:
            return wait_for(predicate, timeout, 0.0002)
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # The 50 ms bound only limits how long a lost event could make us wait.
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if ready:
                try:
                    os.read(self.fd, 65536)
                except BlockingIOError:
                    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Program:
    name: str
    argv: list
    autorestart: bool = True
    stdout: Path | None = None
    stderr: Path | None = None
    # hoody-daemon only: `*_logfile_maxbytes` and `*_logfile_backups` (0: never rotates).
    log_maxbytes: str = "0"
    log_backups: int | None = None
    # hoody-daemon only: `log_timestamps = true`.
    log_timestamps: bool = False
    # hoody-daemon only: more TOML, after the fields above (a `[healthcheck]` table).
    extra: str = ""


def stop_process(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process, wait `grace`, then SIGKILL its process group (which we made)."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    # Still alive and not reaped: its pid is still its process group's id, which is ours.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# ---- the managers ----------------------------------------------------------------------------------


class Manager:
    name = "?"
    key = "?"
    status_note = ""

    def __init__(self, run: Run):
        self.run = run
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self.work: Path | None = None

    # Set by subclasses.
    def available(self) -> str | None:
        """None when usable, else why not."""
        return None

    def version(self) -> str:
        return "?"

    def start(self, work: Path, programs: list[Program]) -> None:
        raise NotImplementedError

    def ready(self, timeout: float) -> bool:
        """The manager answers (its API, its socket), after start()."""
        return self.pid is not None and alive(self.pid)

    def stop(self) -> None:
        raise NotImplementedError

    def status_all(self, calls: int) -> list[float] | None:
        return None

    def status_rps(self, seconds: float, name: str) -> tuple[float, str] | None:
        return None

    def _spawn(self, argv, work: Path, env=None):
        out = open(work / "manager.out", "ab")
        self.process = subprocess.Popen(
            argv,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        out.close()
        self.pid = self.process.pid


class Hoody(Manager):
    name = "hoody-daemon"
    key = "hoody"
    status_note = "`GET /api/v1/daemon/status` (HTTP keep-alive)"

    def __init__(self, run, binary: Path):
        super().__init__(run)
        self.binary = binary
        self.url = None

    def version(self):
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip()

    @staticmethod
    def program_file(program: Program, startsecs: float = 0) -> str:
        def q(value):
            return json.dumps(str(value))

        lines = [
            "command = [" + ", ".join(q(part) for part in program.argv) + "]",
            "boot = true",
            f'autorestart = "{"true" if program.autorestart else "false"}"',
            f"startsecs = {startsecs}",
            "stopwaitsecs = 5",
        ]
        size = program.log_maxbytes if program.log_maxbytes.isdigit() else q(program.log_maxbytes)
        for stream, path in (("stdout", program.stdout), ("stderr", program.stderr)):
            if path:
                lines += [f"{stream}_logfile = {q(path)}", f"{stream}_logfile_maxbytes = {size}"]
                if program.log_backups is not None:
                    lines.append(f"{stream}_logfile_backups = {program.log_backups}")
        if program.log_timestamps:
            lines.append("log_timestamps = true")
        if program.extra:
            lines.append(program.extra)
        return "\n".join(lines) + "\n"

    def start(self, work, programs):
        self.work = work
        self.programs_dir = work / "programs.d"
        self.programs_dir.mkdir()
        for program in programs:
            (self.programs_dir / f"{program.name}.toml").write_text(self.program_file(program))
        env = dict(os.environ, HOODY_DAEMON_LOG="warn")
        env.pop("HOODY_DAEMON_TOKEN", None)
        self._spawn(
            [
                str(self.binary), "serve",
                "--programs-dir", str(self.programs_dir),
                "--state-dir", str(work / "state"),
                "--log-dir", str(work / "logs"),
                "--listen", "127.0.0.1:0",
            ],
            work,
            env,
        )

    def ready(self, timeout):
        address = self.work / "state" / "api.address"
        found = wait_for(lambda: address.exists() and address.read_text().strip(), timeout)
        if not found:
            return False
        self.url = found
        return True

    def stop(self):
        if self.process:
            stop_process(self.process, 30)

    def connection(self):
        host, port = self.url.removeprefix("http://").split(":")
        return http.client.HTTPConnection(host, int(port), timeout=10)

    def status_all(self, calls):
        connection = self.connection()
        timings = []
        for _ in range(calls):
            began = time.perf_counter()
            connection.request("GET", "/api/v1/daemon/status")
            response = connection.getresponse()
            body = response.read()
            timings.append(time.perf_counter() - began)
            assert response.status == 200, body[:200]
        connection.close()
        return timings

    def status_rps(self, seconds, name):
        return wrk(f"{self.url}/api/v1/daemon/status/{name}", seconds, None, self.run)

    def list_all(self, calls):
        """`GET /programs` (every program with its fields, text and status), keep-alive."""
        connection = self.connection()
        timings = []
        deadline = time.monotonic() + 5
        for _ in range(calls):
            began = time.perf_counter()
            connection.request("GET", "/api/v1/daemon/programs")
            response = connection.getresponse()
            body = response.read()
            timings.append(time.perf_counter() - began)
            assert response.status == 200, body[:200]
            if time.monotonic() > deadline:
                break
        connection.close()
        return timings

    def request(self, connection, method, path, body=None):
        """One API call on a kept-alive connection: (seconds, status, parsed answer)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        began = time.perf_counter()
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        text = response.read()
        elapsed = time.perf_counter() - began
        return elapsed, response.status, json.loads(text) if text else None

    # Convergence helpers (ours alone).
    def create(self, program: Program):
        body = {
            "name": program.name,
            "command": program.argv,
            "boot": True,
            "autorestart": "true",
            "startsecs": 0,
        }
        connection = self.connection()
        connection.request(
            "POST",
            "/api/v1/daemon/programs/add",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        text = response.read()
        connection.close()
        assert response.status == 201, text[:300]


class Supervisord(Manager):
    name = "supervisord"
    key = "supervisord"
    status_note = "XML-RPC `supervisor.getAllProcessInfo` over its inet port (HTTP keep-alive)"

    def __init__(self, run):
        super().__init__(run)
        self.venv = PEERS / "supervisor-venv"
        self.port = None

    def available(self):
        if not (self.venv / "bin" / "supervisord").exists():
            return "not installed (pip install supervisor into bench/.peers/supervisor-venv failed)"
        return None

    def version(self):
        out = subprocess.run([self.venv / "bin" / "supervisord", "--version"], capture_output=True, text=True, timeout=20)
        return "supervisord " + out.stdout.strip()

    def start(self, work, programs):
        self.work = work
        self.port = free_port()
        logs = work / "logs"
        logs.mkdir()
        sections = [
            "[supervisord]",
            "nodaemon = true",
            f"logfile = {work / 'supervisord.log'}",
            "loglevel = warn",
            f"pidfile = {work / 'supervisord.pid'}",
            f"childlogdir = {logs}",
            "minfds = 16384",
            "minprocs = 4096",
            "",
            "[inet_http_server]",
            f"port = 127.0.0.1:{self.port}",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
        ]
        for program in programs:
            sections += [
                f"[program:{program.name}]",
                "command = " + " ".join(program.argv),
                "autostart = true",
                f"autorestart = {'true' if program.autorestart else 'false'}",
                "startsecs = 0",
                "stopwaitsecs = 5",
                f"stdout_logfile = {program.stdout or logs / (program.name + '.out')}",
                f"stdout_logfile_maxbytes = {program.log_maxbytes}",
                f"stderr_logfile = {program.stderr or logs / (program.name + '.err')}",
                f"stderr_logfile_maxbytes = {program.log_maxbytes}",
            ]
            if program.log_backups is not None:
                sections += [
                    f"stdout_logfile_backups = {program.log_backups}",
                    f"stderr_logfile_backups = {program.log_backups}",
                ]
            sections.append("")
        conf = work / "supervisord.conf"
        conf.write_text("\n".join(sections))
        self._spawn([str(self.venv / "bin" / "supervisord"), "-c", str(conf)], work)

    def _call(self, connection, method, params=""):
        body = (
            f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            f"<params>{params}</params></methodCall>"
        )
        connection.request("POST", "/RPC2", body=body, headers={"Content-Type": "text/xml"})
        response = connection.getresponse()
        data = response.read()
        assert response.status == 200, data[:200]
        return data

    def ready(self, timeout):
        def answers():
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                self._call(connection, "supervisor.getState")
                connection.close()
                return True
            except (OSError, AssertionError, http.client.HTTPException):
                return False

        return bool(wait_for(answers, timeout, 0.01))

    def stop(self):
        if self.process:
            stop_process(self.process, 60)

    def status_all(self, calls):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        timings = []
        for _ in range(calls):
            began = time.perf_counter()
            self._call(connection, "supervisor.getAllProcessInfo")
            timings.append(time.perf_counter() - began)
            if len(timings) >= 3 and sum(timings) > 5:
                break  # bounded in time: with 1,000 programs one call takes seconds
        connection.close()
        return timings

    def status_rps(self, seconds, name):
        body = (
            "<?xml version='1.0'?><methodCall><methodName>supervisor.getProcessInfo</methodName>"
            f"<params><param><value><string>{name}</string></value></param></params></methodCall>"
        )
        script = self.work / "rpc.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "text/xml"\n'
        )
        return wrk(f"http://127.0.0.1:{self.port}/RPC2", seconds, script, self.run)


class Pm2(Manager):
    name = "PM2"
    key = "pm2"
    status_note = "`pm2.list()` from a connected Node.js client (its RPC socket); the `pm2 jlist` CLI, which starts Node.js each time, is shown apart"

    def __init__(self, run):
        super().__init__(run)
        self.folder = PEERS / "pm2"
        self.cli = self.folder / "node_modules" / "pm2" / "bin" / "pm2"

    def available(self):
        if not shutil.which("node"):
            return "node is not on this machine"
        if not self.cli.exists():
            return "not installed (npm install pm2 into bench/.peers/pm2 failed)"
        return None

    def env(self):
        return dict(
            os.environ,
            PM2_HOME=str(self.work / "pm2home"),
            NODE_PATH=str(self.folder / "node_modules"),
            PM2_DISCRETE_MODE="true",
        )

    def version(self):
        package = json.loads((self.folder / "node_modules" / "pm2" / "package.json").read_text())
        return f"PM2 {package['version']} (Node.js {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()})"

    def cli_run(self, *args, timeout=300):
        return subprocess.run(
            ["node", str(self.cli), *args],
            cwd=self.work,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )

    def start(self, work, programs):
        self.work = work
        (work / "pm2home").mkdir()
        apps = []
        for program in programs:
            apps.append(
                {
                    "name": program.name,
                    "script": program.argv[0],
                    "args": program.argv[1:],
                    "interpreter": "none",
                    "exec_mode": "fork",
                    "autorestart": program.autorestart,
                    "min_uptime": 0,
                    "max_restarts": 1000000,
                    "restart_delay": 0,
                    "out_file": str(program.stdout or work / "logs" / f"{program.name}.out"),
                    "error_file": str(program.stderr or work / "logs" / f"{program.name}.err"),
                    "time": False,
                }
            )
        (work / "logs").mkdir()
        if apps:
            ecosystem = work / "ecosystem.json"
            ecosystem.write_text(json.dumps({"apps": apps}))
            args = ("start", str(ecosystem))
        else:
            args = ("ping",)
        # The CLI forks the God daemon (detached) and returns; it is ours by its pid file.
        self.cli_process = subprocess.Popen(
            ["node", str(self.cli), *args],
            cwd=work,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=open(work / "pm2-cli.out", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = None

    def ready(self, timeout):
        pidfile = self.work / "pm2home" / "pm2.pid"
        found = wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout, 0.01)
        if not found:
            return False
        self.pid = int(found)
        return True

    def wait_cli(self, timeout):
        try:
            self.cli_process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        if self.work is None:
            return
        self.wait_cli(60)
        stop_process(self.cli_process, 1)
        try:
            self.cli_run("kill", timeout=60)
        except subprocess.TimeoutExpired:
            pass
        if self.pid and alive(self.pid) and "PM2" in cmdline(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        self.work = None

    def status_all(self, calls):
        script = self.work / "list.js"
        script.write_text(
            """
const pm2 = require('pm2');
const calls = Number(process.argv[2]);
pm2.connect(true, (error) => {
  if (error) { console.error(error); process.exit(1); }
  const timings = [];
  const once = () => {
    const began = process.hrtime.bigint();
    pm2.list((error, list) => {
      if (error) { console.error(error); process.exit(1); }
      timings.push(Number(process.hrtime.bigint() - began) / 1e9);
      if (timings.length < calls) return once();
      console.log(JSON.stringify({ timings, count: list.length }));
      pm2.disconnect();
    });
  };
  once();
});
"""
        )
        out = subprocess.run(
            ["node", str(script), str(calls + 1)],
            cwd=self.work,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            log(f"PM2 list failed: {out.stderr[-300:]}")
            return None
        # The first call pays for the connection.
        return json.loads(out.stdout.strip().splitlines()[-1])["timings"][1:]

    def jlist_seconds(self):
        began = time.perf_counter()
        self.cli_run("jlist", timeout=60)
        return time.perf_counter() - began


class Horust(Manager):
    name = "horust"
    key = "horust"

    def __init__(self, run):
        super().__init__(run)
        self.binary = PEERS / "horust" / "bin" / "horust"

    def available(self):
        if not self.binary.exists():
            return "not installed (cargo install horust into bench/.peers/horust failed)"
        return None

    def version(self):
        # horust has no --version; cargo install records what it installed.
        record = PEERS / "horust" / ".crates.toml"
        match = re.search(r'"horust ([^ ]+) ', record.read_text()) if record.exists() else None
        return f"horust {match.group(1)}" if match else "horust (version unknown)"

    def start(self, work, programs):
        self.work = work
        services = work / "services"
        services.mkdir()
        (work / "logs").mkdir()
        for program in programs:
            text = [
                "command = " + json.dumps(" ".join(program.argv)),
                f"stdout = {json.dumps(str(program.stdout or work / 'logs' / (program.name + '.out')))}",
                f"stderr = {json.dumps(str(program.stderr or work / 'logs' / (program.name + '.err')))}",
                "[restart]",
                f'strategy = "{"always" if program.autorestart else "never"}"',
                'backoff = "0s"',
                "attempts = 0",
                "[termination]",
                'wait = "5s"',
            ]
            (services / f"{program.name}.toml").write_text("\n".join(text) + "\n")
        self._spawn([str(self.binary), "--services-path", str(services)], work)

    def stop(self):
        if self.process:
            stop_process(self.process, 30)


# ---- load generator ----------------------------------------------------------------------------------


def wrk(url: str, seconds: float, script: Path | None, run: Run):
    """Requests per second from wrk (1 thread, 8 connections, bounded in time), or a threaded
    Python client when wrk is not installed. Returns (rps, what)."""
    if shutil.which("wrk"):
        argv = ["wrk", "-t1", "-c8", f"-d{max(1, int(seconds))}s", "--timeout", "5s"]
        if script:
            argv += ["-s", str(script)]
        argv.append(url)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        match = re.search(r"Requests/sec:\s*([\d.]+)", out.stdout)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
        if match and not errors:
            return float(match.group(1)), "wrk -t1 -c8"
        log(f"wrk failed: {out.stdout[-300:]} {out.stderr[-300:]}")
        return None
    return None


# ---- scenarios ------------------------------------------------------------------------------------------


def stamp_programs(run: Run, work: Path, count: int, stamp_file: Path, prefix="p") -> list[Program]:
    return [Program(f"{prefix}{index}", [str(run.stamp), str(stamp_file)]) for index in range(count)]


def finish(manager: Manager, run: Run, stamp_files=()):
    manager.stop()
    for stamp_file in stamp_files:
        run.remember_pids(stamp_file)
    ended = run.end_leftovers()
    if ended:
        log(f"{manager.name}: ended {ended} program processes left after stop")


def scenario_fleet(manager: Manager, run: Run, count: int, repeat: int, results: dict, extras: bool):
    """Cold start, memory, status latency; with `extras`, also idle cost and status rps."""
    cfg = run.args
    work = run.fresh(f"{manager.key}-fleet{count}")
    stamp_file = work / "stamps.txt"
    programs = stamp_programs(run, work, count, stamp_file)
    if count >= BIG_FLEET:
        # This machine's hard limit on open files is 20,000: a log that rotates is a pipe and a
        # file held by the manager per stream. hoody-daemon hands logs that never rotate to
        # the program itself (direct mode) and holds nothing.
        for program in programs:
            program.extra = "stdout_logfile_maxbytes = 0\nstderr_logfile_maxbytes = 0"
    timeout = min(cfg.start_timeout, BIG_FLEET_TIMEOUT) if count >= BIG_FLEET else cfg.start_timeout
    began = time.monotonic()
    manager.start(work, programs)
    try:
        if not manager.ready(60):
            log(f"{manager.name}: did not come up with {count} programs")
            return
        if count:
            done = wait_for(lambda: count_lines(stamp_file) >= count, timeout, 0.002)
            elapsed = time.monotonic() - began
            if not done:
                running = count_lines(stamp_file)
                log(f"{manager.name}: only {running}/{count} running after {timeout:.0f}s")
                results[f"start{count}_over"].add(timeout)
                results[f"start{count}_over"].note = f"{running:,} of {count:,} running after {timeout:.0f} s"
                return
            results[f"start{count}"].add(elapsed)
            log(f"{manager.name}: {count} programs running after {elapsed:.3f}s")
        if isinstance(manager, Pm2):
            manager.wait_cli(60)
        time.sleep(cfg.settle)
        if not alive(manager.pid):
            log(f"{manager.name}: exited with {count} programs (nothing to supervise?)")
            return
        memory = memory_kib(manager.pid)
        if memory:
            results[f"rss{count}"].add(memory[0] / 1024)
            results[f"pss{count}"].add(memory[1] / 1024)
            results[f"anon{count}"].add(memory[2] / 1024)
            results[f"threads{count}"].add(threads(manager.pid))
        if extras:
            # Context switches of all the manager's threads, read every second: their sum, and
            # the seconds in which there was any (wake episodes: a burst of work counts once).
            cpu0, ctx0, t0 = cpu_seconds(manager.pid), context_switches(manager.pid), time.monotonic()
            previous, episodes = ctx0, 0
            for second in range(int(cfg.idle)):
                time.sleep(max(0.0, t0 + second + 1 - time.monotonic()))
                now = context_switches(manager.pid)
                if now is not None and previous is not None and now > previous:
                    episodes += 1
                previous = now
            cpu1, ctx1, t1 = cpu_seconds(manager.pid), context_switches(manager.pid), time.monotonic()
            results["idle_cpu"].add(cpu1 - cpu0)
            results["idle_switches"].add((ctx1 - ctx0) / (t1 - t0) * 10)
            results["idle_wakeups"].add(episodes / (t1 - t0) * 10)
            log(f"{manager.name}: idle {t1 - t0:.0f}s: cpu {cpu1 - cpu0:.3f}s, {ctx1 - ctx0} context switches in {episodes} seconds")
        if count:
            # The manager's own CPU per call next to the time per call: the time also holds
            # this (Python) client's read of the answer and the loopback copy.
            cpu0 = cpu_seconds(manager.pid)
            timings = manager.status_all(cfg.status_calls)
            cpu1 = cpu_seconds(manager.pid)
            if timings:
                results[f"status{count}"].add(median(timings))
                if cpu0 is not None and cpu1 is not None:
                    results[f"status{count}_cpu"].add((cpu1 - cpu0) / len(timings))
            if isinstance(manager, Hoody):
                timings = manager.list_all(cfg.status_calls)
                if timings:
                    results[f"list{count}"].add(median(timings))
            if isinstance(manager, Pm2) and repeat == 0:
                results[f"jlist{count}"].add(manager.jlist_seconds())
        if extras:
            rps = manager.status_rps(cfg.rps_seconds, programs[0].name)
            if rps:
                results["rps"].add(rps[0])
                results["rps"].note = rps[1]
    finally:
        finish(manager, run, [stamp_file])


def scenario_restart(manager: Manager, run: Run, results: dict):
    cfg = run.args
    work = run.fresh(f"{manager.key}-restart")
    stamp_file = work / "stamps.txt"
    manager.start(work, stamp_programs(run, work, 1, stamp_file))
    latencies = []
    try:
        if not manager.ready(60) or not wait_for(lambda: count_lines(stamp_file) >= 1, 60):
            log(f"{manager.name}: restart program never started")
            return
        time.sleep(0.5)
        for _ in range(cfg.kills):
            lines = read_lines(stamp_file)
            pid = int(lines[-1].split()[0])
            if str(run.root) not in cmdline(pid):
                log(f"{manager.name}: pid {pid} is not our program; stopping this scenario")
                break
            run.program_pids.add(pid)
            with Growth(stamp_file, cfg.restart_poll) as growth:
                killed_at = time.time_ns()
                os.kill(pid, signal.SIGKILL)
                seen = growth.wait(lambda: count_lines(stamp_file) > len(lines), cfg.restart_timeout)
            if not seen:
                log(f"{manager.name}: no restart within {cfg.restart_timeout}s")
                break
            new_line = read_lines(stamp_file)[len(lines)]
            latencies.append((int(new_line.split()[1]) - killed_at) / 1e9)
            time.sleep(cfg.kill_gap)
        if latencies:
            results["restart_median"].add(median(latencies))
            results["restart_p90"].add(percentile(latencies, 0.9))
            results["restart_min"].add(min(latencies))
            results["restart_max"].add(max(latencies))
            log(f"{manager.name}: {len(latencies)} restarts, median {median(latencies) * 1e3:.2f} ms")
    finally:
        finish(manager, run, [stamp_file])


def settle_page_cache(run: Run) -> None:
    """Before a log run: dirty pages written out, and with `--drop-caches` (root) the clean page
    cache dropped too, so that every manager's 1 GiB (and each floor's) lands in free memory
    instead of making the kernel reclaim and compact a full cache first: on a machine whose
    memory is all cache, that reclaim is most of the CPU a log run costs, and how much of it a
    run meets depends on what ran before."""
    os.sync()
    if run.args.drop_caches:
        try:
            Path("/proc/sys/vm/drop_caches").write_text("1\n")
        except OSError as error:
            log(f"--drop-caches: {error}")


def size_bytes(text: str) -> int:
    """A size as program files write it (`50MB`: MB is 2^20, as in supervisord and hoody-daemon)."""
    units = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    for unit, scale in units.items():
        if text.upper().endswith(unit):
            return int(text[: -len(unit)]) * scale
    return int(text)


def logged_bytes(out: Path, backups: int) -> int:
    """Bytes in `out` and its rotated files `out.1` … `out.N`. Read oldest first: rotation only
    moves a file to a higher number, so a file moved during the scan may be missed (counted at
    the next look) but is never counted twice."""
    total = 0
    for path in [Path(f"{out}.{number}") for number in range(backups, 0, -1)] + [out]:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass
    return total


def scenario_logs(manager: Manager, run: Run, results: dict, rotate: bool = False, stamped: bool = False):
    """1 GiB through the manager's log. `rotate`: into 50 MB files, which hoody-daemon captures
    through a pipe; otherwise a log that never rotates. `stamped` (hoody-daemon only, rotating):
    100-byte lines with `log_timestamps = true`, so every line gets its 25-byte stamp."""
    cfg = run.args
    label = "stamped" if stamped else ("rotate" if rotate else "plain")
    work = run.fresh(f"{manager.key}-logs-{label}")
    stamp_file = work / "stamps.txt"
    out = work / "producer.out.log"
    err = work / "producer.err.log"
    program = Program(
        "producer",
        [str(run.stamp), "-l" if stamped else "-p", str(cfg.log_bytes), str(stamp_file), "1500"],
        autorestart=False,
        stdout=out,
        stderr=err,
    )
    prefix = "log"
    backups = 0
    expected = cfg.log_bytes
    if rotate or stamped:
        program.log_maxbytes, program.log_backups = ROTATE_MAXBYTES, ROTATE_BACKUPS
        prefix, backups = "log_rot", ROTATE_BACKUPS
    if stamped:
        program.log_timestamps = True
        prefix = "log_stamp"
        # A stamp and its space before every line start (the last line may be partial).
        starts = cfg.log_bytes // 100 + (1 if cfg.log_bytes % 100 else 0)
        expected = cfg.log_bytes + 25 * starts
    settle_page_cache(run)
    manager.start(work, [program])
    try:
        if not manager.ready(60):
            return
        if not wait_for(lambda: stamp_file.exists() and "ready" in stamp_file.read_text(), 60, 0.001):
            log(f"{manager.name}: producer never started")
            return
        cpu0 = cpu_seconds(manager.pid)
        go = wait_for(lambda: [line for line in read_lines(stamp_file) if line.startswith("go ")], 10, 0.0005)
        if not go:
            return
        if cpu_seconds(manager.pid) is None:
            return
        if backups:
            complete = wait_for(lambda: logged_bytes(out, backups) >= expected, cfg.log_timeout, 0.002)
        else:
            complete = wait_for(lambda: out.exists() and out.stat().st_size >= expected, cfg.log_timeout, 0.001)
        ended_ns = time.time_ns()
        cpu1 = cpu_seconds(manager.pid)
        if not complete:
            size = logged_bytes(out, backups)
            log(f"{manager.name}: log holds {size} of {expected} bytes after {cfg.log_timeout}s")
            return
        wall = (ended_ns - int(go[0].split()[1])) / 1e9
        gib = cfg.log_bytes / GIB
        results[f"{prefix}_wall"].add(wall)
        results[f"{prefix}_cpu"].add((cpu1 - cpu0) / gib)
        what = {"plain": "", "rotate": f"into {ROTATE_MAXBYTES} files ", "stamped": f"as stamped lines into {ROTATE_MAXBYTES} files "}[label]
        log(f"{manager.name}: {gib:.2f} GiB logged {what}in {wall:.2f}s, manager cpu {cpu1 - cpu0:.2f}s")
    finally:
        finish(manager, run, [stamp_file])
        shutil.rmtree(work, ignore_errors=True)


def scenario_follow(hoody: "Hoody", run: Run, results: dict):
    """hoody-daemon alone: how long a follower (`?follow=true`) takes to see a line after it is
    written, and what 400 followers that never read cost while the program writes about
    10 MB/s (RSS added, and GET /status meanwhile)."""
    work = run.fresh("hoody-follow")
    fifo = work / "input"
    os.mkfifo(fifo, 0o600)
    relay = Program("relay", ["sh", "-c", f"exec 3<>{fifo}; exec cat <&3"], stdout=work / "relay.out.log", stderr=work / "relay.err.log")
    relay.log_maxbytes = "50MB"
    flood = Program(
        "flood",
        ["sh", "-c", "while true; do head -c 1000000 /dev/zero | tr '\\0' y | fold -w 99; sleep 0.1; done"],
        stdout=work / "flood.out.log",
        stderr=work / "flood.err.log",
    )
    hoody.start(work, [relay, flood])
    sockets = []
    try:
        if not hoody.ready(60):
            return
        host, port = hoody.url.removeprefix("http://").split(":")

        def open_follower(path):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(f"GET /api/v1/daemon{path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
            return sock

        if not wait_for(lambda: (work / "relay.out.log").exists() and (work / "flood.out.log").exists(), 30, 0.01):
            log("hoody-daemon: the follow scenario's programs did not start")
            return
        with open(fifo, "w") as writer:
            follower = open_follower("/programs/relay/logs?follow=true&stream=stdout&lines=0")
            follower.settimeout(0.2)
            pending = bytearray()

            def next_data(deadline):
                # By hand: a file object over a socket is unusable after one timeout.
                while True:
                    while b"\n" in pending:
                        end = pending.index(b"\n")
                        line = bytes(pending[:end])
                        del pending[: end + 1]
                        if line.startswith(b"data: "):
                            return line[6:].strip().decode()
                    if time.time() >= deadline:
                        return None
                    try:
                        chunk = follower.recv(65536)
                    except (socket.timeout, TimeoutError):
                        continue
                    if not chunk:
                        return None
                    pending.extend(chunk)

            # Subscribed once a line comes through.
            deadline = time.time() + 30
            while time.time() < deadline:
                writer.write("hello\n")
                writer.flush()
                if next_data(time.time() + 0.5) == "hello":
                    break
            while next_data(time.time() + 0.3) is not None:
                pass
            delays = []
            for mark in range(100):
                sent = time.perf_counter()
                writer.write(f"mark {mark}\n")
                writer.flush()
                if next_data(time.time() + 10) != f"mark {mark}":
                    log("hoody-daemon: a followed mark went missing")
                    return
                delays.append(time.perf_counter() - sent)
                time.sleep(0.01)
            follower.close()
        results["follow_median"].add(median(delays))
        results["follow_p90"].add(percentile(delays, 0.9))
        log(f"hoody-daemon: follower latency median {median(delays) * 1e3:.2f} ms, p90 {percentile(delays, 0.9) * 1e3:.2f} ms")

        # 400 followers that never read, of a program writing about 10 MB/s.
        flood_log = work / "flood.out.log"
        time.sleep(2)
        before = memory_kib(hoody.pid)
        size0 = flood_log.stat().st_size
        sockets = [open_follower("/programs/flood/logs?follow=true&lines=100") for _ in range(400)]
        connection = hoody.connection()
        slowest = 0.0
        while flood_log.stat().st_size < size0 + (40 << 20):
            asked = time.perf_counter()
            connection.request("GET", "/api/v1/daemon/status")
            connection.getresponse().read()
            slowest = max(slowest, time.perf_counter() - asked)
            time.sleep(0.05)
        time.sleep(2)
        after = memory_kib(hoody.pid)
        if before and after:
            results["followers_rss"].add((after[0] - before[0]) / 1024)
        results["followers_status"].add(slowest)
        log(f"hoody-daemon: 400 idle followers added {(after[0] - before[0]) / 1024:.1f} MiB RSS; slowest GET /status meanwhile {slowest * 1e3:.1f} ms")
    finally:
        for sock in sockets:
            sock.close()
        finish(hoody, run)
        shutil.rmtree(work, ignore_errors=True)


def physical_limits(run: Run, results: dict):
    """The producer writing to a file itself, through `cat`, and through bench/logfloor.c (a
    splice loop into rotating files, the captured path with no manager around it): the floor
    for log capture."""
    cfg = run.args
    gib = cfg.log_bytes / GIB
    floor = floor_binary(run, "logfloor")
    modes = ["direct", "cat"] + (["splice", "relay"] if floor else [])
    for mode in modes:
        work = run.fresh(f"limit-{mode}")
        stamp_file = work / "stamps.txt"
        out = work / "out.log"
        settle_page_cache(run)
        producer_argv = [str(run.stamp), "-p", str(cfg.log_bytes), str(stamp_file), "0"]
        with open(out, "wb") as sink:
            if mode == "direct":
                producer = subprocess.Popen(producer_argv, stdout=sink, start_new_session=True)
                _, _, usage = os.wait4(producer.pid, 0)
                producer.returncode = 0
                cpu = usage.ru_utime + usage.ru_stime
            elif mode in ("splice", "relay"):
                # The floor reports its own CPU (not the producer's, its child) on stderr.
                maxbytes = str(size_bytes(ROTATE_MAXBYTES))
                relay = ["-r"] if mode == "relay" else []
                done = subprocess.run(
                    [str(floor), *relay, str(out), maxbytes, str(ROTATE_BACKUPS), *producer_argv],
                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=cfg.log_timeout, start_new_session=True,
                )
                cpu = float(done.stderr.split()[-1])
            else:
                reader, writer = os.pipe()
                cat = subprocess.Popen(["cat"], stdin=reader, stdout=sink, start_new_session=True)
                producer = subprocess.Popen(producer_argv, stdout=writer, start_new_session=True)
                os.close(reader)
                os.close(writer)
                producer.wait(timeout=cfg.log_timeout)
                _, _, usage = os.wait4(cat.pid, 0)
                cat.returncode = 0
                cpu = usage.ru_utime + usage.ru_stime
        ended_ns = time.time_ns()
        go = [line for line in read_lines(stamp_file) if line.startswith("go ")]
        assert logged_bytes(out, ROTATE_BACKUPS if mode in ("splice", "relay") else 0) == cfg.log_bytes
        wall = (ended_ns - int(go[0].split()[1])) / 1e9
        results[f"{mode}_wall"].add(wall)
        results[f"{mode}_cpu"].add(cpu / gib)
        who = {"direct": "producer", "cat": "cat", "splice": "logfloor", "relay": "logfloor -r"}[mode]
        log(f"limit {mode}: {gib:.2f} GiB in {wall:.2f}s, {who} cpu {cpu:.2f}s")
        shutil.rmtree(work, ignore_errors=True)


def scenario_convergence(hoody: Hoody, run: Run, results: dict):
    """programs.d file drop → running, and API create → running, with `background` programs."""
    cfg = run.args
    work = run.fresh("hoody-converge")
    stamp_file = work / "stamps.txt"
    background = cfg.converge_background
    hoody.start(work, stamp_programs(run, work, background, stamp_file))
    files = []
    try:
        if not hoody.ready(60) or not wait_for(lambda: count_lines(stamp_file) >= background, 60):
            return
        time.sleep(1)
        for kind in ("drop", "api"):
            latencies = []
            for index in range(cfg.converge_count):
                mark = work / f"{kind}{index}.txt"
                files.append(mark)
                program = Program(f"{kind}{index}", [str(run.stamp), str(mark)])
                if kind == "drop":
                    # As `cp` into the folder would, but atomic (a hidden temp file is ignored).
                    temp = hoody.programs_dir / f".{program.name}.toml.tmp"
                    temp.write_text(Hoody.program_file(program))
                    began = time.time_ns()
                    os.rename(temp, hoody.programs_dir / f"{program.name}.toml")
                else:
                    began = time.time_ns()
                    hoody.create(program)
                if not wait_for(lambda: count_lines(mark) >= 1, 10, 0.0005):
                    log(f"convergence: {program.name} not running after 10s")
                    continue
                latencies.append((int(read_lines(mark)[0].split()[1]) - began) / 1e9)
                time.sleep(0.1)
            if latencies:
                results[f"{kind}_median"].add(median(latencies))
                results[f"{kind}_p90"].add(percentile(latencies, 0.9))
                log(f"convergence {kind}: median {median(latencies) * 1e3:.1f} ms over {len(latencies)}")
    finally:
        finish(hoody, run, [stamp_file, *files])


WRITE_KINDS = ("add", "edit", "disable", "enable", "remove")


def scenario_writes(hoody: Hoody, run: Run, count: int, results: dict):
    """API writes with `count` programs running: add a program (one that does not boot, so the
    answer is the write, not a process start), edit it, disable, enable, remove it; each call
    timed alone, 0.1 s apart (after the watch's echo of the write has been read), and the daemon's
    CPU over all of them, echoes included."""
    cfg = run.args
    work = run.fresh(f"hoody-writes{count}")
    stamp_file = work / "stamps.txt"
    programs = stamp_programs(run, work, count, stamp_file)
    for program in programs:
        program.extra = "stdout_logfile_maxbytes = 0\nstderr_logfile_maxbytes = 0"
    hoody.start(work, programs)
    try:
        if not hoody.ready(60) or not wait_for(lambda: count_lines(stamp_file) >= count, BIG_FLEET_TIMEOUT, 0.005):
            log(f"writes: {count} programs did not start")
            return
        time.sleep(cfg.settle)
        connection = hoody.connection()
        base = "/api/v1/daemon/programs"
        timings = {kind: [] for kind in WRITE_KINDS}
        cpu0 = cpu_seconds(hoody.pid)
        calls = 0
        for index in range(cfg.write_rounds):
            name = f"w{index}"
            steps = (
                ("add", "POST", f"{base}/add", {
                    "name": name, "command": [str(run.stamp), str(work / "w.txt")], "boot": False,
                    "stdout_logfile_maxbytes": 0, "stderr_logfile_maxbytes": 0,
                }, 201),
                ("edit", "POST", f"{base}/edit/{name}", {"startsecs": 1 + index % 5}, 200),
                ("disable", "POST", f"{base}/{name}/disable", {}, 200),
                ("enable", "POST", f"{base}/{name}/enable", {}, 200),
                ("remove", "POST", f"{base}/remove/{name}", {}, 200),
            )
            for kind, method, path, body, expected in steps:
                elapsed, status, answer = hoody.request(connection, method, path, body)
                assert status == expected, (kind, status, answer)
                timings[kind].append(elapsed)
                calls += 1
                time.sleep(0.1)
        cpu = cpu_seconds(hoody.pid) - cpu0
        connection.close()
        for kind in WRITE_KINDS:
            results[f"write_{kind}{count}"].add(median(timings[kind]))
        every = [value for kind in WRITE_KINDS for value in timings[kind]]
        results[f"write_all{count}"].add(median(every))
        results[f"write_p90{count}"].add(percentile(every, 0.9))
        results[f"write_cpu{count}"].add(cpu / calls)
        log(f"writes with {count} programs: median {median(every) * 1e3:.2f} ms, daemon CPU {cpu / calls * 1e3:.2f} ms per write")
    finally:
        finish(hoody, run, [stamp_file])


def idle_window(manager: Manager, seconds: float) -> tuple[float, float, float, float]:
    """(CPU seconds, context switches per 10 s, seconds with any switch per 10 s, wall seconds)
    of the manager's threads over a window, read every second."""
    cpu0, ctx0, t0 = cpu_seconds(manager.pid), context_switches(manager.pid), time.monotonic()
    previous, episodes = ctx0, 0
    for second in range(int(seconds)):
        time.sleep(max(0.0, t0 + second + 1 - time.monotonic()))
        now = context_switches(manager.pid)
        if now is not None and previous is not None and now > previous:
            episodes += 1
        previous = now
    cpu1, ctx1, t1 = cpu_seconds(manager.pid), context_switches(manager.pid), time.monotonic()
    wall = t1 - t0
    return cpu1 - cpu0, (ctx1 - ctx0) / wall * 10, episodes / wall * 10, wall


class ProbeTarget:
    """A loopback HTTP server in this script that answers every probe with 200 and counts them
    (its CPU is this script's, not the manager's)."""

    def __init__(self):
        import http.server
        import threading

        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                target.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.count = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def scenario_health(hoody: Hoody, run: Run, results: dict):
    """Health checks (SPEC §12), hoody-daemon alone: the idle cost of 100 programs without any
    health field (it must not move), and the CPU of 100 programs each probed over http every
    10 s (budget: under 1 % of a core)."""
    cfg = run.args
    count = 100
    for kind in ("plain", "http"):
        work = run.fresh(f"hoody-health-{kind}")
        stamp_file = work / "stamps.txt"
        programs = stamp_programs(run, work, count, stamp_file)
        target = None
        if kind == "http":
            target = ProbeTarget()
            for index, program in enumerate(programs):
                program.extra = (
                    f'[healthcheck]\nhttp = "http://127.0.0.1:{target.port}/p{index}"\n'
                    "interval = 10\ntimeout = 2\n"
                )
        hoody.start(work, programs)
        try:
            if not hoody.ready(60) or not wait_for(lambda: count_lines(stamp_file) >= count, 60):
                log(f"health {kind}: the programs did not come up")
                return
            if kind == "http":
                def all_ready():
                    connection = hoody.connection()
                    connection.request("GET", "/api/v1/daemon/ready")
                    response = connection.getresponse()
                    response.read()
                    connection.close()
                    return response.status == 200

                if not wait_for(all_ready, 60, 0.2):
                    log("health http: not every program became ready")
                    return
            time.sleep(cfg.settle)
            served = target.count if target else 0
            window = cfg.health_window if kind == "http" else cfg.idle
            cpu, switches, wakeups, wall = idle_window(hoody, window)
            memory = memory_kib(hoody.pid)
            results[f"health_{kind}_cpu"].add(cpu)
            results[f"health_{kind}_cpu_percent"].add(cpu / wall * 100)
            results[f"health_{kind}_switches"].add(switches)
            results[f"health_{kind}_wakeups"].add(wakeups)
            if memory:
                results[f"health_{kind}_rss"].add(memory[0] / 1024)
            if target:
                probes = target.count - served
                results["health_http_probes"].add(probes / wall * 10)
                log(f"health http: {probes} probes in {wall:.0f}s, manager cpu {cpu:.3f}s ({cpu / wall * 100:.3f} % of a core)")
            else:
                log(f"health plain: idle {wall:.0f}s: cpu {cpu:.3f}s, {switches:.1f} switches and {wakeups:.1f} wake-ups per 10 s")
        finally:
            finish(hoody, run, [stamp_file])
            if target:
                target.close()


def scenario_metrics(hoody: Hoody, run: Run, results: dict):
    """Metrics (SPEC §14), hoody-daemon alone: status of all with its resource figures and a
    `GET /metrics` scrape, at 100 and 1,000 programs (time per call and the daemon's CPU per
    call), and the idle cost with nobody scraping (it must not move: nothing is sampled)."""
    cfg = run.args
    for count in (100, 1000):
        work = run.fresh(f"hoody-metrics{count}")
        stamp_file = work / "stamps.txt"
        programs = stamp_programs(run, work, count, stamp_file)
        hoody.start(work, programs)
        try:
            if not hoody.ready(60) or not wait_for(lambda: count_lines(stamp_file) >= count, cfg.start_timeout):
                log(f"metrics {count}: the programs did not come up")
                return
            time.sleep(cfg.settle)
            if count == 100:
                cpu, switches, wakeups, wall = idle_window(hoody, cfg.idle)
                results["metrics_idle_wakeups"].add(wakeups)
                results["metrics_idle_switches"].add(switches)
                log(f"metrics: idle {wall:.0f}s with nobody scraping: {switches:.1f} switches, {wakeups:.1f} wake-ups per 10 s")
            for key, path in (("status", "/api/v1/daemon/status"), ("scrape", "/metrics")):
                connection = hoody.connection()
                timings = []
                size = 0
                cpu0 = cpu_seconds(hoody.pid)
                deadline = time.monotonic() + 5
                while len(timings) < cfg.status_calls and (time.monotonic() < deadline or len(timings) < 5):
                    began = time.perf_counter()
                    connection.request("GET", path)
                    response = connection.getresponse()
                    body = response.read()
                    timings.append(time.perf_counter() - began)
                    assert response.status == 200, body[:200]
                    size = len(body)
                cpu1 = cpu_seconds(hoody.pid)
                connection.close()
                results[f"metrics_{key}{count}"].add(median(timings))
                results[f"metrics_{key}{count}_cpu"].add((cpu1 - cpu0) / len(timings))
                results[f"metrics_{key}{count}_bytes"].add(size)
                log(f"metrics {count}: GET {path}: median {median(timings) * 1e3:.3f} ms over {len(timings)} calls, "
                    f"daemon CPU {(cpu1 - cpu0) / len(timings) * 1e3:.3f} ms per call, {size} bytes")
        finally:
            finish(hoody, run, [stamp_file])


# ---- setup --------------------------------------------------------------------------------------------


def build_hoody() -> Path:
    log("building hoody-daemon (cargo build --release)")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True, timeout=1800)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "release" / "hoody-daemon"


def install_peers(skip: set[str]):
    PEERS.mkdir(exist_ok=True)
    notes = {}

    def attempt(name, check, steps, timeout):
        if name in skip:
            notes[name] = "skipped (--skip)"
            return
        if check():
            return
        log(f"installing {name} into bench/.peers/ …")
        try:
            for step, cwd in steps:
                subprocess.run(step, cwd=cwd, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = getattr(error, "stderr", b"") or b""
            notes[name] = f"could not be installed: {error} {detail[-300:].decode(errors='replace')}"
            log(f"{name}: {notes[name]}")

    venv = PEERS / "supervisor-venv"
    attempt(
        "supervisord",
        lambda: (venv / "bin" / "supervisord").exists(),
        [
            ([sys.executable, "-m", "venv", str(venv)], PEERS),
            ([str(venv / "bin" / "pip"), "install", "--quiet", "supervisor>=4,<5"], PEERS),
        ],
        600,
    )
    pm2 = PEERS / "pm2"
    if "pm2" not in skip and not shutil.which("npm"):
        notes["pm2"] = "npm is not on this machine"
    else:
        pm2.mkdir(exist_ok=True)
        if not (pm2 / "package.json").exists():
            (pm2 / "package.json").write_text('{"name": "pm2-peer", "private": true}\n')
        attempt(
            "pm2",
            lambda: (pm2 / "node_modules" / "pm2" / "bin" / "pm2").exists(),
            [(["npm", "install", "--no-audit", "--no-fund", "--silent", "pm2"], pm2)],
            600,
        )
    attempt(
        "horust",
        lambda: (PEERS / "horust" / "bin" / "horust").exists(),
        [(["cargo", "install", "--quiet", "horust", "--root", str(PEERS / "horust")], PEERS)],
        1800,
    )
    return notes


def floor_binary(run: Run, name: str) -> Path | None:
    """bench/NAME.c built once per run (the floors are run again at each repeat), or None (and
    said) when it cannot be built."""
    binary = run.stamp.parent / name
    if binary.exists():
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler and not subprocess.run([compiler, "-O2", "-o", str(binary), str(HERE / f"{name}.c")], capture_output=True).returncode:
        return binary
    log(f"floor: cannot build bench/{name}.c")
    return None


def compile_stamp(run: Run):
    run.stamp.parent.mkdir(parents=True)
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        sys.exit("bench: a C compiler (cc) is needed for bench/stamp.c")
    source = HERE / "stamp.c"
    # Without libc where it can (see stamp.c), else static, else plain.
    attempts = [
        ("no libc", ["-static", "-nostdlib", "-fno-stack-protector", "-fno-builtin", "-DSTAMP_NOLIBC"]),
        ("static libc", ["-static"]),
        ("libc", []),
    ]
    for label, flags in attempts:
        built = subprocess.run([compiler, "-O2", *flags, "-o", str(run.stamp), str(source)], capture_output=True)
        if built.returncode == 0 and subprocess.run([str(run.stamp)], capture_output=True).returncode == 2:
            run.stamp_kind = label
            return
    sys.exit("bench: cannot build bench/stamp.c")


def spawn_floor(run: Run, results: dict):
    """posix_spawn of the stamp from here → its line written: what no manager can beat."""
    work = run.fresh("spawn-floor")
    stamp_file = work / "stamps.txt"
    latencies = []
    stamp_file.touch()
    for _ in range(50):
        lines = count_lines(stamp_file)
        with Growth(stamp_file, run.args.restart_poll) as growth:
            began = time.time_ns()
            pid = os.posix_spawn(str(run.stamp), [str(run.stamp), str(stamp_file)], os.environ)
            run.program_pids.add(pid)
            seen = growth.wait(lambda: count_lines(stamp_file) > lines, 5)
        if seen:
            latencies.append((int(read_lines(stamp_file)[lines].split()[1]) - began) / 1e9)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        run.program_pids.discard(pid)
    results["spawn_floor"].add(median(latencies))
    log(f"spawn floor: median {median(latencies) * 1e3:.3f} ms")


def restart_floor(run: Run, results: dict):
    """bench/restarter.c (sigwaitinfo, waitpid, vfork + execve) restarting the stamp, killed as
    in the restart scenario: what kill -9 → new process costs here with no manager work."""
    binary = floor_binary(run, "restarter")
    if not binary:
        return
    work = run.fresh("restart-floor")
    stamp_file = work / "stamps.txt"
    process = subprocess.Popen([str(binary), str(run.stamp), str(stamp_file)], stdin=subprocess.DEVNULL, start_new_session=True)
    latencies = []
    try:
        if not wait_for(lambda: count_lines(stamp_file) >= 1, 10):
            return
        time.sleep(0.5)
        for _ in range(run.args.kills):
            lines = read_lines(stamp_file)
            pid = int(lines[-1].split()[0])
            run.program_pids.add(pid)
            with Growth(stamp_file, run.args.restart_poll) as growth:
                killed_at = time.time_ns()
                os.kill(pid, signal.SIGKILL)
                seen = growth.wait(lambda: count_lines(stamp_file) > len(lines), run.args.restart_timeout)
            if not seen:
                break
            latencies.append((int(read_lines(stamp_file)[len(lines)].split()[1]) - killed_at) / 1e9)
            time.sleep(run.args.kill_gap)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        run.remember_pids(stamp_file)
        run.end_leftovers()
    if latencies:
        results["restart_floor"].add(median(latencies))
        results["restart_floor_p90"].add(percentile(latencies, 0.9))
        log(f"restart floor: median {median(latencies) * 1e3:.3f} ms")


def machine() -> dict:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "memory_gib": round(int(memory) / (1 << 20), 1),
        "python": platform.python_version(),
    }


# ---- report -------------------------------------------------------------------------------------------


def fmt(figure: Figure | None, unit: str, scale: float = 1.0, digits: int = 2) -> str:
    if figure is None or not figure.values:
        return "n/a"
    values = [value * scale for value in figure.values]
    mid = median(values)
    text = f"{mid:.{digits}f}{unit}"
    if len(values) > 1:
        text += f" ({min(values):.{digits}f}–{max(values):.{digits}f})"
    return text


def ratio(ours: Figure | None, theirs: Figure | None, higher_is_better=False) -> str:
    if not ours or not theirs or not ours.values or not theirs.values:
        return "n/a"
    a, b = ours.median, theirs.median
    if a <= 0 and b > 0 and not higher_is_better:
        return "none vs some"
    if a <= 0 or b <= 0:
        return "n/a"
    factor = a / b if higher_is_better else b / a
    if factor >= 1:
        return f"{factor:.1f}× better"
    return f"{1 / factor:.1f}× worse"


ROWS = [
    # (key, label, unit, scale, digits, higher_is_better)
    ("rss0", "Memory, 0 programs: RSS", " MiB", 1, 1, False),
    ("pss0", "Memory, 0 programs: PSS", " MiB", 1, 1, False),
    ("anon0", "Memory, 0 programs: anonymous (heap, stacks)", " MiB", 1, 1, False),
    ("rss100", "Memory, 100 programs: RSS", " MiB", 1, 1, False),
    ("pss100", "Memory, 100 programs: PSS", " MiB", 1, 1, False),
    ("anon100", "Memory, 100 programs: anonymous (heap, stacks)", " MiB", 1, 1, False),
    ("rss1000", "Memory, 1,000 programs: RSS", " MiB", 1, 1, False),
    ("pss1000", "Memory, 1,000 programs: PSS", " MiB", 1, 1, False),
    ("anon1000", "Memory, 1,000 programs: anonymous (heap, stacks)", " MiB", 1, 1, False),
    ("start100", "Cold start, 100 programs", " s", 1, 3, False),
    ("start500", "Cold start, 500 programs", " s", 1, 3, False),
    ("start1000", "Cold start, 1,000 programs", " s", 1, 3, False),
    ("start10000", "Cold start, 10,000 programs (logs that never rotate; one run)", " s", 1, 3, False),
    ("restart_median", "Restart after kill -9: median", " ms", 1e3, 2, False),
    ("restart_p90", "Restart after kill -9: p90", " ms", 1e3, 2, False),
    ("log_wall", "Log capture: wall time", " s", 1, 2, False),
    ("log_cpu", "Log capture: manager CPU per GiB", " s", 1, 2, False),
    ("log_rot_wall", f"Log capture, rotating {ROTATE_MAXBYTES} files: wall time", " s", 1, 2, False),
    ("log_rot_cpu", f"Log capture, rotating {ROTATE_MAXBYTES} files: manager CPU per GiB", " s", 1, 2, False),
    ("log_stamp_wall", f"Log capture, rotating {ROTATE_MAXBYTES} files, 100-byte lines with log_timestamps: wall time", " s", 1, 2, False),
    ("log_stamp_cpu", f"Log capture, rotating {ROTATE_MAXBYTES} files, 100-byte lines with log_timestamps: manager CPU per GiB", " s", 1, 2, False),
    ("follow_median", "Log follower: write → event, median", " ms", 1e3, 2, False),
    ("follow_p90", "Log follower: write → event, p90", " ms", 1e3, 2, False),
    ("followers_rss", "400 idle followers of a 10 MB/s program: RSS added", " MiB", 1, 1, False),
    ("followers_status", "400 idle followers of a 10 MB/s program: slowest GET /status", " s", 1, 3, False),
    ("idle_cpu", "Idle, 100 programs: manager CPU over the window", " s", 1, 3, False),
    ("idle_wakeups", "Idle, 100 programs: wake-ups per 10 s (seconds with any activity)", "", 1, 1, False),
    ("idle_switches", "Idle, 100 programs: context switches per 10 s (all threads)", "", 1, 1, False),
    ("status100", "Status of all, 100 programs", " ms", 1e3, 3, False),
    ("status1000", "Status of all, 1,000 programs", " ms", 1e3, 3, False),
    ("status10000", "Status of all, 10,000 programs", " ms", 1e3, 3, False),
    ("status100_cpu", "Status of all, 100 programs: manager CPU per call", " ms", 1e3, 3, False),
    ("status1000_cpu", "Status of all, 1,000 programs: manager CPU per call", " ms", 1e3, 3, False),
    ("status10000_cpu", "Status of all, 10,000 programs: manager CPU per call", " ms", 1e3, 3, False),
    ("list100", "`GET /programs` (fields, text, status), 100 programs", " ms", 1e3, 3, False),
    ("list1000", "`GET /programs` (fields, text, status), 1,000 programs", " ms", 1e3, 3, False),
    ("list10000", "`GET /programs` (fields, text, status), 10,000 programs", " ms", 1e3, 3, False),
    ("rps", "Status of one: requests/s under load", "", 1, 0, True),
]


def report(results, versions, skipped, mach, cfg, started, limits, converge) -> str:
    managers = [key for key in ("hoody", "supervisord", "pm2", "horust") if key in results]
    names = {"hoody": "hoody-daemon", "supervisord": "supervisord", "pm2": "PM2", "horust": "horust"}
    lines = []
    mode = "quick" if cfg.quick else "full"
    lines.append(f"# Benchmark results ({mode} run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))})")
    lines.append("")
    lines.append(
        f"Machine: {mach['nproc']} cores, {mach['cpu']}, {mach['memory_gib']} GiB, Linux {mach['kernel']}. "
        f"Suite wall time: {(time.time() - started) / 60:.1f} min."
    )
    lines.append("")
    lines.append("Versions: " + "; ".join(versions[key] for key in managers) + ".")
    if skipped:
        lines.append("")
        lines.append("Skipped: " + "; ".join(f"{key}: {why}" for key, why in skipped.items()) + ".")
    lines.append("")
    lines.append(
        f"Cells are the median of the runs with (min–max) over them. Repeats: fleets ×{cfg.repeats}, "
        f"log capture ×{cfg.log_repeats} of {cfg.log_bytes / GIB:g} GiB, restart {cfg.kills} kills, "
        f"idle window {cfg.idle:g} s, status {cfg.status_calls} calls per run (at most 5 s), load {cfg.rps_seconds:g} s. "
        f"A manager that needs over {SLOW:.0f} s for one run of a scenario is run once there (no range shown)."
    )
    lines.append("")
    header = "| scenario | " + " | ".join(names[key] for key in managers) + " | vs supervisord |"
    lines.append(header)
    lines.append("|" + "---|" * (len(managers) + 2))
    for key, label, unit, scale, digits, higher in ROWS:
        cells = [fmt(results[manager].get(key), unit, scale, digits) for manager in managers]
        for index, manager in enumerate(managers):
            over = results[manager].get(f"{key}_over")
            if cells[index] == "n/a" and over and over.values:
                cells[index] = f"over {over.values[0]:.0f} s ({over.note.split(' running')[0]} running)"
        versus = ratio(results.get("hoody", {}).get(key), results.get("supervisord", {}).get(key), higher)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {versus} |")
    lines.append("")
    if "pm2" in results:
        jl = [fmt(results["pm2"].get(f"jlist{n}"), " ms", 1e3, 0) for n in (100, 1000)]
        lines.append(f"PM2's `pm2 jlist` CLI (Node.js start included): {jl[0]} with 100 programs, {jl[1]} with 1,000.")
        lines.append("")
    lines.append("Status of all is measured as: " + "; ".join(
        f"{names[key]}: {MANAGER_NOTES[key]}" for key in managers if MANAGER_NOTES.get(key)) + ".")
    rps_notes = {results[key]["rps"].note for key in managers if results[key].get("rps") and results[key]["rps"].note}
    if rps_notes:
        lines.append(
            "Requests/s: `GET /api/v1/daemon/status/p0` for hoody-daemon and XML-RPC `supervisor.getProcessInfo('p0')` "
            f"for supervisord, from {', '.join(sorted(rps_notes))} on 127.0.0.1; PM2 and horust have no such API."
        )
    lines.append("")
    lines.append(f"Physical limits of log capture on this machine ({cfg.log_bytes / GIB:g} GiB, same producer):")
    lines.append("")
    lines.append("| path | wall time | CPU per GiB |")
    lines.append("|---|---|---|")
    lines.append(f"| producer → file directly | {fmt(limits.get('direct_wall'), ' s')} | {fmt(limits.get('direct_cpu'), ' s')} (the producer's own CPU: page-cache writes) |")
    lines.append(f"| producer → pipe → `cat` → file | {fmt(limits.get('cat_wall'), ' s')} | {fmt(limits.get('cat_cpu'), ' s')} (`cat`'s CPU) |")
    lines.append(
        f"| producer → pipe → bench/logfloor.c (epoll_wait + splice) → rotating {ROTATE_MAXBYTES} files | "
        f"{fmt(limits.get('splice_wall'), ' s')} | {fmt(limits.get('splice_cpu'), ' s')} (logfloor's own CPU: the captured path's floor) |"
    )
    lines.append(
        f"| producer → pipe → bench/logfloor.c -r (pipe → relay pipe → file, as hoody-daemon moves) → rotating {ROTATE_MAXBYTES} files | "
        f"{fmt(limits.get('relay_wall'), ' s')} | {fmt(limits.get('relay_cpu'), ' s')} (logfloor's own CPU) |"
    )
    for key, label in (
        ("log", "hoody-daemon, log that never rotates"),
        ("log_rot", f"hoody-daemon, rotating {ROTATE_MAXBYTES} files (captured)"),
        ("log_stamp", f"hoody-daemon, rotating {ROTATE_MAXBYTES} files, 100-byte lines with timestamps (captured)"),
    ):
        if "hoody" in results and results["hoody"].get(f"{key}_wall") and limits.get("direct_wall"):
            share = limits["direct_wall"].median / results["hoody"][f"{key}_wall"].median
            lines.append(f"| {label} | {fmt(results['hoody'][f'{key}_wall'], ' s')} | {fmt(results['hoody'][f'{key}_cpu'], ' s')} — {share * 100:.0f} % of the direct-to-file speed |")
    lines.append("")
    if converge:
        lines.append(f"Convergence, hoody-daemon alone ({cfg.converge_count} programs each, {cfg.converge_background} programs already running):")
        lines.append("")
        lines.append("| path | median | p90 |")
        lines.append("|---|---|---|")
        lines.append(f"| file dropped into programs.d → process running | {fmt(converge.get('drop_median'), ' ms', 1e3, 1)} | {fmt(converge.get('drop_p90'), ' ms', 1e3, 1)} |")
        lines.append(f"| `POST /programs/add` → process running | {fmt(converge.get('api_median'), ' ms', 1e3, 1)} | {fmt(converge.get('api_p90'), ' ms', 1e3, 1)} |")
        lines.append("")
    ours = results.get("hoody", {})
    sizes = [n for n in cfg.write_sizes if ours.get(f"write_all{n}")]
    if sizes:
        lines.append(
            f"API writes, hoody-daemon alone: {cfg.write_rounds} rounds of add (a program that does not boot), edit, "
            "disable, enable, remove, each call alone on a kept-alive connection, 0.1 s apart, with N programs running "
            "(logs that never rotate). Median per call; the daemon's CPU per call includes the watch's echo of its own write."
        )
        lines.append("")
        lines.append("| call | " + " | ".join(f"{n:,} programs" for n in sizes) + " |")
        lines.append("|---|" + "---|" * len(sizes))
        for kind in WRITE_KINDS:
            lines.append(f"| `{kind}` | " + " | ".join(fmt(ours.get(f"write_{kind}{n}"), " ms", 1e3, 2) for n in sizes) + " |")
        lines.append("| all, median | " + " | ".join(fmt(ours.get(f"write_all{n}"), " ms", 1e3, 2) for n in sizes) + " |")
        lines.append("| all, p90 | " + " | ".join(fmt(ours.get(f"write_p90{n}"), " ms", 1e3, 2) for n in sizes) + " |")
        lines.append("| daemon CPU per call | " + " | ".join(fmt(ours.get(f"write_cpu{n}"), " ms", 1e3, 2) for n in sizes) + " |")
        lines.append("")
    if limits.get("spawn_floor"):
        lines.append(
            f"Restart floor: this script's own `posix_spawn` of the same program → its first line written: "
            f"{fmt(limits['spawn_floor'], ' ms', 1e3, 3)} (median of 50). The program is bench/stamp.c built with {cfg.stamp_kind}."
        )
        if limits.get("restart_floor"):
            lines.append(
                f"Kill -9 → restarted by bench/restarter.c (sigwaitinfo, waitpid, vfork + execve; no manager work): "
                f"median {fmt(limits['restart_floor'], ' ms', 1e3, 3)}, p90 {fmt(limits['restart_floor_p90'], ' ms', 1e3, 3)} ({cfg.kills} kills, as above)."
            )
        lines.append("")
    ours = results.get("hoody", {})
    if ours.get("health_http_cpu") or ours.get("health_plain_cpu"):
        lines.append(
            f"Health checks, hoody-daemon alone (100 programs; idle window {cfg.idle:g} s, "
            f"probe window {cfg.health_window:g} s):"
        )
        lines.append("")
        lines.append("| 100 programs | CPU (% of a core) | wake-ups per 10 s | context switches per 10 s | RSS | probes per 10 s |")
        lines.append("|---|---|---|---|---|---|")
        for kind, label in (("plain", "no health fields"), ("http", "an http probe each, every 10 s")):
            probes = fmt(ours.get("health_http_probes"), "", 1, 1) if kind == "http" else "0"
            lines.append(
                f"| {label} | {fmt(ours.get(f'health_{kind}_cpu_percent'), ' %', 1, 3)} | "
                f"{fmt(ours.get(f'health_{kind}_wakeups'), '', 1, 1)} | {fmt(ours.get(f'health_{kind}_switches'), '', 1, 1)} | "
                f"{fmt(ours.get(f'health_{kind}_rss'), ' MiB', 1, 1)} | {probes} |"
            )
        lines.append("")
    if ours.get("metrics_scrape1000") or ours.get("metrics_status100"):
        lines.append(f"Metrics, hoody-daemon alone (programs that each run one process; idle window {cfg.idle:g} s):")
        lines.append("")
        lines.append("| call | time, median | daemon CPU per call | bytes |")
        lines.append("|---|---|---|---|")
        for key, label in (
            ("status100", "`GET /status`, 100 programs (with cpu/memory/processes)"),
            ("status1000", "`GET /status`, 1,000 programs (with cpu/memory/processes)"),
            ("scrape100", "`GET /metrics`, 100 programs"),
            ("scrape1000", "`GET /metrics`, 1,000 programs"),
        ):
            lines.append(
                f"| {label} | {fmt(ours.get(f'metrics_{key}'), ' ms', 1e3, 3)} | "
                f"{fmt(ours.get(f'metrics_{key}_cpu'), ' ms', 1e3, 3)} | {fmt(ours.get(f'metrics_{key}_bytes'), '', 1, 0)} |"
            )
        lines.append(
            f"| idle, 100 programs, nobody scraping | wake-ups per 10 s: {fmt(ours.get('metrics_idle_wakeups'), '', 1, 1)} | "
            f"context switches per 10 s: {fmt(ours.get('metrics_idle_switches'), '', 1, 1)} | |"
        )
        lines.append("")
    lines += targets(results.get("hoody"), results.get("supervisord"), limits, converge, results.get("horust"))
    lines.append(f"Command: `bench/run{' --quick' if cfg.quick else ''}`")
    return "\n".join(lines) + "\n"


def targets(ours, theirs, limits, converge, horust_figures=None) -> list[str]:
    """Issue 7's targets, each met or missed, from this run's medians."""
    if not ours:
        return []

    def value(figures, key):
        figure = (figures or {}).get(key)
        return figure.median if figure and figure.values else None

    rows = []

    def target(label, measured, ok):
        verdict = "n/a" if ok is None else ("met" if ok else "**missed**")
        rows.append(f"| {label} | {measured} | {verdict} |")

    for count, limit in ((100, 4), (1000, 8)):
        rss = value(ours, f"rss{count}")
        target(f"memory with {count:,} programs ≤ {limit} MB RSS", "n/a" if rss is None else f"{rss:.1f} MiB", None if rss is None else rss <= limit)
    a, b = value(ours, "start1000"), value(theirs, "start1000")
    target("cold start of 1,000 programs ≥ 10× faster than supervisord", "n/a" if None in (a, b) else f"{b / a:.1f}×", None if None in (a, b) else b / a >= 10)
    r = value(ours, "restart_median")
    target("restart latency median ≤ 2 ms", "n/a" if r is None else f"{r * 1e3:.2f} ms", None if r is None else r <= 0.002)
    wall, direct = value(ours, "log_wall"), value(limits, "direct_wall")
    target("log capture ≥ 90 % of the direct-to-file speed", "n/a" if None in (wall, direct) else f"{direct / wall * 100:.0f} %", None if None in (wall, direct) else direct / wall >= 0.9)
    cpu = value(ours, "log_cpu")
    target("log capture ≤ 0.25 manager CPU-s per GiB", "n/a" if cpu is None else f"{cpu:.2f} s", None if cpu is None else cpu <= 0.25)
    wake = value(ours, "idle_wakeups")
    target("idle: ≤ 1 wake-up per 10 s (seconds with activity)", "n/a" if wake is None else f"{wake:.2f}", None if wake is None else wake <= 1)
    st = value(ours, "status1000")
    target("status of all 1,000 programs ≤ 1 ms", "n/a" if st is None else f"{st * 1e3:.2f} ms", None if st is None else st <= 0.001)
    drop = value(converge, "drop_median")
    target("file drop → running ≤ 50 ms median", "n/a" if drop is None else f"{drop * 1e3:.1f} ms", None if drop is None else drop <= 0.05)
    plain = value(ours, "health_plain_wakeups")
    target("health (issue 15): idle with 100 programs without health fields ≤ 1 wake-up per 10 s", "n/a" if plain is None else f"{plain:.2f}", None if plain is None else plain <= 1)
    http = value(ours, "health_http_cpu_percent")
    target("health (issue 15): 100 programs with an http probe every 10 s < 1 % of a core", "n/a" if http is None else f"{http:.3f} %", None if http is None else http < 1)
    rows.append("| **issue 20** | | |")
    rss, horust = value(ours, "rss100"), value(horust_figures, "rss100")
    target("RSS with 100 programs below horust's (same run)", "n/a" if None in (rss, horust) else f"{rss:.2f} MiB vs {horust:.2f} MiB", None if None in (rss, horust) else rss < horust)
    a0, a100 = value(ours, "anon0"), value(ours, "anon100")
    target("anonymous memory per idle program ≤ 4 KiB (0 → 100 programs)", "n/a" if None in (a0, a100) else f"{(a100 - a0) * 1024 / 100:.1f} KiB", None if None in (a0, a100) else (a100 - a0) * 1024 / 100 <= 4)
    for count, factor in ((500, 10), (1000, 25)):
        a, b = value(ours, f"start{count}"), value(theirs, f"start{count}")
        target(f"cold start of {count:,} programs ≥ {factor}× faster than supervisord", "n/a" if None in (a, b) else f"{b / a:.1f}×", None if None in (a, b) else b / a >= factor)
    r, p = value(ours, "restart_median"), value(ours, "restart_p90")
    target("restart after kill -9: median ≤ 0.6 ms", "n/a" if r is None else f"{r * 1e3:.2f} ms", None if r is None else r <= 0.0006)
    target("restart after kill -9: p90 ≤ 1 ms", "n/a" if p is None else f"{p * 1e3:.2f} ms", None if p is None else p <= 0.001)
    w = value(ours, "write_all10000")
    target("API write with 10,000 programs ≤ 5 ms median", "n/a" if w is None else f"{w * 1e3:.2f} ms", None if w is None else w <= 0.005)
    w10, w10k = value(ours, "write_all10"), value(ours, "write_all10000")
    target("API write costs the same at 10 and 10,000 programs (within 1 ms)", "n/a" if None in (w10, w10k) else f"{w10 * 1e3:.2f} → {w10k * 1e3:.2f} ms", None if None in (w10, w10k) else w10k - w10 <= 0.001)
    lst = value(ours, "list1000")
    target("`GET /programs` with 1,000 programs ≤ 5 ms", "n/a" if lst is None else f"{lst * 1e3:.2f} ms", None if lst is None else lst <= 0.005)
    st = value(ours, "status10000")
    target("status of all 10,000 programs ≤ 10 ms", "n/a" if st is None else f"{st * 1e3:.2f} ms", None if st is None else st <= 0.010)
    return ["Targets of issues 7 and 20 (hoody-daemon, this run):", "", "| target | measured | verdict |", "|---|---|---|", *rows, ""]


MANAGER_NOTES = {
    "hoody": Hoody.status_note,
    "supervisord": Supervisord.status_note,
    "pm2": Pm2.status_note,
    "horust": "no status API",
}


# ---- main -------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer repeats, shorter windows (≲ 3 min)")
    parser.add_argument("--only", default="", help="comma-separated managers: hoody,supervisord,pm2,horust")
    parser.add_argument("--skip", default="", help="comma-separated managers not to install or run")
    parser.add_argument("--no-install", action="store_true", help="do not install missing peers")
    parser.add_argument("--hoody-binary", default=None, help="use this hoody-daemon binary instead of building one (A/B runs)")
    parser.add_argument("--scenarios", default="fleet,restart,logs,follow,converge,health,writes,metrics", help="comma-separated: fleet,restart,logs,follow,converge,health,writes,metrics")
    parser.add_argument("--sizes", dest="fleet_sizes", default=None, help="comma-separated fleet sizes (default 0,100,500,1000,10000; quick: 0,100)")
    parser.add_argument("--restart-poll", action="store_true", help="restart and its floor: wait for the new line by polling every 0.2 ms (the method of runs before 2026-12-01 16:30) instead of inotify")
    parser.add_argument("--drop-caches", action="store_true", help="log runs: drop the clean page cache before each (root; slows every other user of the machine for a while)")
    parser.add_argument("--output", default=None, help="markdown file to write (default bench/results/latest.md, quick.md with --quick)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.log_repeats, args.log_bytes = 1, 1, 256 << 20
        args.kills, args.idle, args.status_calls, args.rps_seconds = 10, 5.0, 10, 2
        args.converge_count, args.settle = 5, 1.0
        args.health_window = 20.0
        args.sizes = [0, 100]  # 1,000 programs take supervisord about a minute to start
        args.write_sizes, args.write_rounds = [10, 1000], 5
    else:
        args.repeats, args.log_repeats, args.log_bytes = 3, 3, GIB
        args.kills, args.idle, args.status_calls, args.rps_seconds = 50, 60.0, 30, 5
        args.converge_count, args.settle = 20, 2.0
        args.health_window = 60.0
        args.sizes = [0, 100, 500, 1000, BIG_FLEET]
        args.write_sizes, args.write_rounds = [10, 1000, BIG_FLEET], 20
    args.start_timeout, args.restart_timeout, args.kill_gap = 120.0, 10.0, 0.15
    args.log_timeout, args.converge_background = 120.0, 100
    if args.fleet_sizes:
        args.sizes = [int(size) for size in args.fleet_sizes.split(",")]
    output = Path(args.output) if args.output else RESULTS / ("quick.md" if args.quick else "latest.md")
    scenarios = set(args.scenarios.split(","))
    skip = {name for name in args.skip.split(",") if name}
    only = {name for name in args.only.split(",") if name}
    if only:
        skip |= {"hoody", "supervisord", "pm2", "horust"} - only

    started = time.time()
    binary = None
    if "hoody" not in skip:
        binary = Path(args.hoody_binary).resolve() if args.hoody_binary else build_hoody()
    skipped = {} if args.no_install else install_peers(skip - {"hoody"})
    run = Run(args)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    managers: list[Manager] = []
    try:
        compile_stamp(run)
        args.stamp_kind = run.stamp_kind
        candidates = []
        if binary:
            candidates.append(Hoody(run, binary))
        candidates += [Supervisord(run), Pm2(run), Horust(run)]
        versions = {}
        for manager in candidates:
            if manager.key in skip:
                skipped.setdefault(manager.key, "skipped (--skip/--only)")
                continue
            why = manager.available()
            if why:
                skipped[manager.key] = why
                log(f"skipping {manager.name}: {why}")
                continue
            managers.append(manager)
            versions[manager.key] = manager.version()
        results = {}
        for manager in managers:
            figures = Figures()
            results[manager.key] = figures
            log(f"==== {manager.name}")
            if "fleet" in scenarios:
                for count in args.sizes:
                    for repeat in range(1 if count >= BIG_FLEET else args.repeats):
                        scenario_fleet(manager, run, count, repeat, figures, extras=(count == 100 and repeat == 0))
                        starts = figures[f"start{count}"].values if count else []
                        if not starts and count:
                            break  # did not start (or not in time): once says enough
                        if starts and starts[0] > SLOW:
                            log(f"{manager.name}: {count} programs took over {SLOW:.0f}s to start; one run only")
                            break
            if "restart" in scenarios:
                scenario_restart(manager, run, figures)
            if "logs" in scenarios:
                for _ in range(args.log_repeats):
                    scenario_logs(manager, run, figures)
                    walls = figures["log_wall"].values
                    if not walls or walls[0] > SLOW:
                        break  # failed, or so slow that one run says enough
                # The captured path: rotating 50 MB files (hoody-daemon and supervisord; PM2 and
                # horust have no size rotation of their own), and with timestamps (ours alone).
                if isinstance(manager, (Hoody, Supervisord)):
                    for _ in range(args.log_repeats):
                        scenario_logs(manager, run, figures, rotate=True)
                        walls = figures["log_rot_wall"].values
                        if not walls or walls[0] > SLOW:
                            break
                if isinstance(manager, Hoody):
                    for _ in range(args.log_repeats):
                        scenario_logs(manager, run, figures, stamped=True)
                        walls = figures["log_stamp_wall"].values
                        if not walls or walls[0] > SLOW:
                            break
            if "follow" in scenarios and isinstance(manager, Hoody):
                scenario_follow(manager, run, figures)
        limits = Figures()
        if "restart" in scenarios:
            spawn_floor(run, limits)
            restart_floor(run, limits)
        if "logs" in scenarios:
            for _ in range(args.log_repeats):
                physical_limits(run, limits)
        converge = None
        hoody = next((manager for manager in managers if isinstance(manager, Hoody)), None)
        if "converge" in scenarios and hoody:
            converge = Figures()
            scenario_convergence(hoody, run, converge)
        if "health" in scenarios and hoody:
            scenario_health(hoody, run, results["hoody"])
        if "writes" in scenarios and hoody:
            for count in args.write_sizes:
                scenario_writes(hoody, run, count, results["hoody"])
        if "metrics" in scenarios and hoody:
            scenario_metrics(hoody, run, results["hoody"])
        text = report(results, versions, skipped, machine(), args, started, limits, converge)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        raw = {
            "machine": machine(),
            "versions": versions,
            "skipped": skipped,
            "results": {key: {name: figure.to_json() for name, figure in figures.items()} for key, figures in results.items()},
            "limits": {name: figure.to_json() for name, figure in limits.items()},
            "convergence": {name: figure.to_json() for name, figure in (converge or {}).items()},
        }
        output.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
        print()
        print(text)
        log(f"wrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}")
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        for manager in managers:
            try:
                manager.stop()
            except Exception as error:  # cleanup goes on whatever one manager does
                log(f"stopping {manager.name}: {error}")
        run.end_leftovers()
        run.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
