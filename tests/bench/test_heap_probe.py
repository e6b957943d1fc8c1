"""`bench/heap_probe`: a process started with it on its path answers SIGUSR2 with a report of its own memory."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[2] / "bench" / "heap_probe"

# Keeps 20,000 objects of its own class and 20,000 distinct 16-byte digests, frees a burst of blocks between
# them, drops 500 objects that refer to themselves (the collector off), asks itself for the report and waits.
PROGRAM = """
import gc, os, signal, sys, time
from picchu.handlers import process
process.tune()
gc.disable()
class Cycle:
    pass
for _ in range(500):
    cycle = Cycle()
    cycle.me = cycle
del cycle
class Kept:
    def __init__(self, number):
        self.digest = number.to_bytes(16, "big")
burst = []
kept = []
for number in range(20_000):
    kept.append(Kept(number))
    burst.append([number] * 8)
del burst
os.kill(os.getpid(), signal.SIGUSR2)
deadline = time.monotonic() + 30
while not os.path.exists(os.environ["PICCHU_HEAP_REPORT"]) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the report reads glibc's malloc_info")
def test_the_report_shows_the_objects_kept_and_the_allocators_free_bytes(tmp_path: Path) -> None:
    report = tmp_path / "heap.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROBE), *sys.path]),
           "PICCHU_HEAP_REPORT": str(report)}
    subprocess.run([sys.executable, "-c", PROGRAM], env=env, check=True, timeout=120)
    text = report.read_text()
    assert re.match(r"RSS \d+\.\d MiB, 1 threads", text)
    assert "unreadable" not in text
    kept = re.search(r"^\s+[\d.]+ MiB\s+(\d+)\s+__main__\.Kept$", text, re.M)
    assert kept is not None and int(kept.group(1)) == 20_000, text
    digests = re.search(r"^\s+[\d.]+ MiB\s+(\d+)\s+bytes$", text, re.M)
    assert digests is not None and int(digests.group(1)) >= 20_000, text
    assert int(re.search(r"bytes in available blocks: ([\d,]+)", text).group(1).replace(",", "")) > 0  # type: ignore[union-attr]
    assert re.search(r"heap 0: [\d.]+ MiB mapped, [\d.]+ MiB of it free", text), text
    assert re.search(r"^ +500  __main__\.Cycle$", text, re.M), text  # the cyclic garbage, by type
    assert re.search(r"after a malloc_trim too \d+\.\d MiB", text), text
