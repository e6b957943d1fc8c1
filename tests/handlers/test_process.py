"""The operator's malloc settings, seen in a fresh interpreter (glibc only): large blocks stay out of the heap."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

# Frees a 4 MiB block (glibc would then raise its mmap threshold to 4 MiB), then holds forty 32 KiB blocks (the
# size of a TLS connection's buffers, below glibc's initial 128 KiB threshold),
# and prints how much the main heap grew for them.
PROGRAM = """
import ctypes, sys
from picchu.handlers import process
if sys.argv[1] == "tuned":
    process.tune()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.sbrk.restype = ctypes.c_void_p
libc.free(ctypes.c_void_p(libc.malloc(4 << 20)))
before = libc.sbrk(0)
held = [libc.malloc(32 << 10) for _ in range(40)]
print(libc.sbrk(0) - before)
"""


def heap_growth(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, env=env,
                          check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_after_a_large_block_is_freed_later_large_blocks_still_leave_the_heap() -> None:
    assert heap_growth("default") >= 40 * (32 << 10)  # glibc put them in the heap
    assert heap_growth("tuned") < 256 << 10  # tuned: mapped, and returned to the system when freed


# Fills 40 MiB of the heap with 8 KiB blocks below one that stays, frees them, and prints the resident KiB
# before and after `release_free_memory`.
TRIM_PROGRAM = """
import ctypes
from picchu.handlers import process
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
def resident_kib():
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1])
blocks = [libc.malloc(8 << 10) for _ in range(5120)]
for block in blocks:
    ctypes.memset(block, 1, 8 << 10)
top = libc.malloc(8 << 10)  # glibc gives back only the top of the heap by itself: this keeps it
for block in blocks:
    libc.free(ctypes.c_void_p(block))
before = resident_kib()
process.release_free_memory()
print(before, resident_kib())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_memory_freed_below_the_top_of_the_heap_is_given_back() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", TRIM_PROGRAM], capture_output=True, text=True, env=env,
                          check=True)
    before, after = map(int, done.stdout.split())
    assert before - after >= 30 << 10  # KiB: most of the 40 MiB freed left the process
