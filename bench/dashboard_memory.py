#!/usr/bin/env python3
"""What the web dashboard costs a daemon's memory (docs/PERFORMANCE.md, "Budget of wave 2
features").

    bench/dashboard_memory.py [LABEL=]BINARY … [--programs N] [--rounds R]

For each binary, R times: start `serve` on a fresh programs.d of N `sleep` programs (port 0),
wait until they all run and the daemon is idle, then read

- RSS, PSS and anonymous memory of the daemon (/proc/PID/smaps_rollup) and its thread count;
- how many of the dashboard's pages are resident: the assets are found in the binary file (the
  bytes of index.html … as src/api/dashboard/ holds them), their file offsets turned into
  addresses with /proc/PID/maps, and each page looked up in /proc/PID/pagemap (bit 63:
  present; needs root or the daemon's own uid);

then GET every asset (as a browser loading the page would) and read both again. A binary
without the dashboard (the branch point) shows RSS only. Prints a Markdown table of medians.
Everything is on 127.0.0.1; the daemon is stopped by its pid (SIGTERM, which stops its programs).
"""

import argparse
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "src", "api", "dashboard")
PAGE = 4096


def asset_files():
    return sorted(
        os.path.join(ASSETS, name)
        for name in os.listdir(ASSETS)
        if os.path.isfile(os.path.join(ASSETS, name))
    )


def asset_offsets(binary):
    """(name, file offset, length) of each asset's bytes inside the binary, if it holds them."""
    data = open(binary, "rb").read()
    found = []
    for path in asset_files():
        content = open(path, "rb").read()
        offset = data.find(content)
        if offset >= 0:
            found.append((os.path.basename(path), offset, len(content)))
    return found


def file_mappings(pid, binary):
    """(start, end, file offset) of each mapping of the binary in the process."""
    real = os.path.realpath(binary)
    mappings = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == real:
                start, end = (int(value, 16) for value in parts[0].split("-"))
                mappings.append((start, end, int(parts[2], 16)))
    return mappings


def resident_asset_pages(pid, binary, offsets):
    """(resident, total) pages of the assets in the process."""
    mappings = file_mappings(pid, binary)
    pages = set()
    for _, offset, length in offsets:
        for page_offset in range(offset // PAGE * PAGE, offset + length, PAGE):
            for start, end, file_offset in mappings:
                if file_offset <= page_offset < file_offset + (end - start):
                    pages.add(start + page_offset - file_offset)
    resident = 0
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for address in pages:
            pagemap.seek(address // PAGE * 8)
            (entry,) = struct.unpack("<Q", pagemap.read(8))
            resident += (entry >> 63) & 1
    return resident, len(pages)


def rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup_file:
        for line in rollup_file:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return {
        "rss": fields["Rss"] / 1024,
        "pss": fields["Pss"] / 1024,
        "anonymous": fields["Anonymous"] / 1024,
        "threads": threads,
    }


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def wait_for(what, probe, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def one_round(binary, programs):
    with tempfile.TemporaryDirectory(prefix=f"hoody-dash-mem-{os.getpid()}-") as root:
        folder = os.path.join(root, "programs.d")
        os.mkdir(folder)
        for index in range(programs):
            with open(os.path.join(folder, f"p{index}.toml"), "w") as file:
                file.write('command = "sleep 100000"\nboot = true\nstartsecs = 0\n')
        env = {key: value for key, value in os.environ.items() if key != "HOODY_DAEMON_TOKEN"}
        daemon = subprocess.Popen(
            [binary, "serve", "--programs-dir", folder, "--state-dir", os.path.join(root, "state"),
             "--log-dir", os.path.join(root, "logs"), "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        try:
            address = os.path.join(root, "state", "api.address")
            url = wait_for("the daemon to listen", lambda: os.path.exists(address)
                           and open(address).read().endswith("\n") and open(address).read().strip())
            api = f"{url}/api/v1/daemon"

            def all_running():
                _, body = get(f"{api}/status")
                statuses = json.loads(body)["data"]["statuses"]
                return len(statuses) == programs and all(s["status"] == "RUNNING" for s in statuses)

            wait_for("every program to run", all_running)
            time.sleep(2)  # settle, as bench/run does before reading memory
            offsets = asset_offsets(binary)
            before = rollup(daemon.pid)
            before["pages"] = resident_asset_pages(daemon.pid, binary, offsets) if offsets else None
            after = None
            if offsets:
                status, _ = get(f"{url}/")
                assert status == 200
                for name, _, _ in offsets:
                    if name != "index.html":
                        status, _ = get(f"{url}/dashboard/{name}")
                        assert status == 200, name
                time.sleep(0.5)
                after = rollup(daemon.pid)
                after["pages"] = resident_asset_pages(daemon.pid, binary, offsets)
            return before, after, sum(length for _, _, length in offsets)
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--programs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print(f"{options.programs} programs, {options.rounds} rounds each, medians\n")
    print("| binary | when | RSS MiB | PSS MiB | anonymous MiB | threads | dashboard pages resident |")
    print("|---|---|---|---|---|---|---|")
    for argument in options.binaries:
        label, _, binary = argument.rpartition("=")
        label = label or binary
        rounds = [one_round(binary, options.programs) for _ in range(options.rounds)]
        size = rounds[0][2]
        for when, index in (("idle, page never served", 0), ("after serving every asset", 1)):
            samples = [entry[index] for entry in rounds if entry[index] is not None]
            if not samples:
                continue
            median = lambda key: statistics.median(sample[key] for sample in samples)
            pages = [sample["pages"] for sample in samples if sample["pages"] is not None]
            shown = (f"{statistics.median(p[0] for p in pages):.0f} of {pages[0][1]} ({size / 1024:.0f} KiB of assets)"
                     if pages else "no dashboard")
            print(f"| {label} | {when} | {median('rss'):.2f} | {median('pss'):.2f} | "
                  f"{median('anonymous'):.2f} | {median('threads'):.0f} | {shown} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
