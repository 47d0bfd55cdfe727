#!/usr/bin/env python3
"""Writes link/hot.ld: the code an idle daemon runs, first in the binary.

    link/profile.py [--binary target/release/hoody-daemon] [--programs 100]

Runs the given release binary's `serve` under valgrind's callgrind twice, with no program and
with N `sleep` programs (logs captured, as by default), asks each for its status and its list
of programs, stops it, and keeps the name of every function of the binary that ran. link/hot.ld
then names them, as patterns on their sections (`.text.NAME`: the compiler puts each function
in a section of its own), in an output section the linker puts before the rest of `.text`
(build.rs passes the script to the linker of release builds).

Why: the kernel maps a binary's pages in 64 KiB blocks around each page fault, and the code a
daemon runs was spread over the whole 5.8 MB of `.text`, so nearly all of it was resident
(docs/PERFORMANCE.md, "Memory" under issue 20). Together, that code is about 1.7 MB.

The patterns are symbol names with the hash (`17h…E`) and the crate disambiguators of v0
names (`Cs…_`) left open, so they keep matching across compilers and dependency versions;
only a generic function run for some of its instantiations names those exactly (the others
stay where they are). A function renamed or added since the profile simply is not matched and
stays in `.text`, where it was before: the order changes, never what the program does. Run
this again after big changes of what an idle daemon runs, and commit the result.
"""

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def profile(binary: Path, programs: int, work: Path) -> set[str]:
    """The mangled names of the binary's functions that ran in one callgrind run."""
    folder = work / f"run{programs}"
    (folder / "programs.d").mkdir(parents=True)
    for index in range(programs):
        (folder / "programs.d" / f"p{index}.toml").write_text(
            'command = ["sleep", "100000"]\nboot = true\nautorestart = "true"\nstartsecs = 0\n'
        )
    out = folder / "callgrind.out"
    daemon = subprocess.Popen(
        [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
            "--demangle=no", "--compress-strings=no",
            str(binary), "serve",
            "--programs-dir", str(folder / "programs.d"),
            "--state-dir", str(folder / "state"),
            "--log-dir", str(folder / "logs"),
            "--listen", "127.0.0.1:0",
        ],
        env=dict(os.environ, HOODY_DAEMON_LOG="warn"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        address = folder / "state" / "api.address"
        deadline = time.monotonic() + 120
        while not (address.exists() and address.read_text().strip()):
            if time.monotonic() > deadline or daemon.poll() is not None:
                sys.exit(f"profile.py: the daemon did not come up with {programs} programs")
            time.sleep(0.2)
        url = address.read_text().strip()
        # Let the boot finish (under valgrind a spawn takes a while), then read as a client would.
        time.sleep(5 + programs * 0.1)
        for path in ("/api/v1/daemon/status", "/api/v1/daemon/programs"):
            urllib.request.urlopen(url + path, timeout=30).read()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    names, current = set(), None
    real = str(binary.resolve())
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("ob="):
            current = line[3:].strip()
        elif line.startswith("fn=") and current in ("???", real):
            names.add(line[3:].strip())
    return names


def pattern(name: str) -> str:
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h*", name)
    return re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "hoody-daemon")
    parser.add_argument("--programs", type=int, default=100)
    parser.add_argument("--output", type=Path, default=ROOT / "link" / "hot.ld")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("profile.py: valgrind is needed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="hoody-profile-") as work:
        ran = profile(args.binary, 0, Path(work)) | profile(args.binary, args.programs, Path(work))
    symbols = []
    for line in subprocess.check_output(["nm", "-S", "--defined-only", str(args.binary)], text=True).splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            symbols.append(parts[3])
    instances = collections.defaultdict(list)
    for name in symbols:
        instances[pattern(name)].append(name)
    patterns, seen = [], set()
    for name in symbols:
        if name not in ran:
            continue
        shared = pattern(name)
        chosen = shared if all(other in ran for other in instances[shared]) else name
        if chosen not in seen:
            seen.add(chosen)
            patterns.append(chosen)
    lines = [
        "/* Generated by link/profile.py (do not edit): the functions an idle daemon ran, with no",
        f"   program and with {args.programs}, first in the binary. See that script and build.rs. */",
        "SECTIONS",
        "{",
        "  .text.hoody_hot :",
        "  {",
        *(f"    *(.text.{name})" for name in patterns),
        "  }",
        "}",
        "INSERT BEFORE .text;",
        "",
    ]
    args.output.write_text("\n".join(lines))
    print(f"{args.output}: {len(patterns)} patterns, from {len(ran)} functions that ran")


if __name__ == "__main__":
    main()
