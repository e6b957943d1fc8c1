"""Run a command while both cores are kept busy, to show a test suite holds on a loaded machine.

    python hack/with_cpu_hogs.py [--hogs N] -- make test-integration

Starts N processes (default: one per core) that spin at normal priority, runs the command, stops the hogs
and exits with the command's exit code. It prints how long the command took and the load average, so a
run under load can be compared with a quiet one; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time


def _spin() -> None:
    value = 0
    while True:
        value = (value * 31 + 7) % 1_000_003


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="busy processes (default: cores)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    print(f"[cpu-hogs] {args.hogs} busy processes started; running: {' '.join(command)}", flush=True)
    started = time.monotonic()
    try:
        code = subprocess.call(command)
    finally:
        for hog in hogs:
            hog.terminate()
        for hog in hogs:
            hog.join(5)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"[cpu-hogs] command exited {code} after {time.monotonic() - started:.0f}s "
          f"with {args.hogs} hogs (load average at the end: {load})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
