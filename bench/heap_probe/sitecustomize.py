"""Bench-only: where the operator's resident memory is, read inside the running process on SIGUSR2.

Why: RSS alone cannot tell memory the apps keep from memory freed after a burst that an allocator cannot give
back, and tracemalloc slows the operator so much that its passes time out. `bench/scale.py --heap-breakdown`
puts this directory first on the operator's PYTHONPATH, so Python imports this file at start-up, and sends
SIGUSR2 after each measurement; the report goes to the file named by PICCHU_HEAP_REPORT. It is never loaded
by the operator otherwise (the chart and the image do not ship `bench/`).

The report: RSS and threads; pymalloc's arenas and the bytes live and free in them per size class (from
`sys._debugmallocstats`, which writes to the C stderr: that descriptor is pointed at the report for the call,
so a line another thread logs at that instant would land there too); glibc's heaps, each with its mapped
and free bytes (`malloc_info`); resident memory by kind of mapping; the garbage collector's objects created
since start-up (the import-time ones were frozen by `picchu.handlers.process.tune`) by type; and the objects
those reference that the collector does not track (strings, bytes, numbers, atomic tuples and dicts); the
garbage in reference cycles that the next full collection would free; and what a `malloc_trim` would give back.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import re
import signal
import sys
import tempfile
import threading
from typing import Any


def _resident_by_mapping() -> list[str]:
    """Resident KiB per mapping kind: anonymous memory (heaps, pymalloc arenas, thread stacks, large blocks)
    and the files mapped (the interpreter, the C extensions, the TLS library)."""
    rss: collections.Counter[str] = collections.Counter()
    kind = ""
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            parts = line.split()
            if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", parts[0]):
                path = parts[5] if len(parts) > 5 else ""
                kind = path if path.startswith("[") or not path else os.path.basename(path).split(".")[0]
                kind = kind or "anonymous"
            elif parts[0] == "Rss:":
                rss[kind] += int(parts[1])
    return [f"  {kib / 1024:7.1f} MiB  {name}" for name, kib in rss.most_common(12) if kib >= 512]


def _pymalloc() -> list[str]:
    with tempfile.TemporaryFile("w+") as capture:
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()
    lines = []
    classes = re.findall(r"^\s+\d+\s+(\d+)\s+\d+\s+(\d+)\s+(\d+)$", text, re.M)
    wasted = sorted(((int(size) * int(free), int(size), int(live)) for size, live, free in classes), reverse=True)
    for label in ("arenas allocated current", "bytes in allocated blocks", "bytes in available blocks"):
        found = re.search(rf"# {label}\s+=\s+([\d,]+)", text)
        if found:
            lines.append(f"  {label}: {found.group(1)}")
    lines.append("  size classes with the most free bytes (size: live blocks, free MiB):")
    lines += [f"    {size:4d} B: {live:8d} live, {free / 2**20:5.1f} MiB free" for free, size, live in wasted[:6]]
    return lines


def _glibc_heaps() -> list[str]:
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    with tempfile.NamedTemporaryFile("r") as capture:
        stream = libc.fopen(capture.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        xml = capture.read()
    lines = []
    for number, body in re.findall(r'<heap nr="(\d+)">(.*?)</heap>', xml, re.S):
        free = sum(int(s) for s in re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"/>', body))
        mapped = re.search(r'<system type="current" size="(\d+)"/>', body)
        lines.append(f"  heap {number}: {int(mapped.group(1)) / 2**20 if mapped else 0:.1f} MiB mapped, "
                     f"{free / 2**20:.1f} MiB of it free")
    large = re.search(r'<total type="mmap" count="(\d+)" size="(\d+)"/>', xml)
    if large:
        lines.append(f"  blocks mapped on their own: {large.group(1)}, {int(large.group(2)) / 2**20:.1f} MiB")
    return lines


def _cyclic_garbage() -> list[str]:
    """What the next full collection would free: objects only reachable from reference cycles."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        count = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        size = sum(sys.getsizeof(o) for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    lines = [f"  {sum(count.values())} objects, {size / 2**20:.1f} MiB (shallow)"]
    return lines + [f"    {n:7d}  {name}" for name, n in count.most_common(12)]


def _objects() -> list[str]:
    gc.collect()
    tracked = gc.get_objects()  # only those created since start-up: the rest are frozen
    count: collections.Counter[str] = collections.Counter()
    size: collections.Counter[str] = collections.Counter()
    for obj in tracked:
        name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        count[name] += 1
        size[name] += sys.getsizeof(obj)
    lines = [f"  tracked since start-up: {len(tracked)}, {sum(size.values()) / 2**20:.1f} MiB (shallow)"]
    lines += [f"    {size[n] / 2**20:6.2f} MiB {count[n]:7d}  {n}" for n, _ in size.most_common(12)]
    seen: set[int] = set()
    untracked_count: collections.Counter[str] = collections.Counter()
    untracked_size: collections.Counter[str] = collections.Counter()
    frontier: list[Any] = [r for obj in tracked for r in gc.get_referents(obj) if not gc.is_tracked(r)]
    while frontier:
        following = []
        for obj in frontier:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            untracked_count[type(obj).__qualname__] += 1
            untracked_size[type(obj).__qualname__] += sys.getsizeof(obj)
            if isinstance(obj, (tuple, dict, frozenset)):
                following += [r for r in gc.get_referents(obj) if not gc.is_tracked(r)]
        frontier = following
    lines.append(f"  untracked objects they reference: {len(seen)}, "
                 f"{sum(untracked_size.values()) / 2**20:.1f} MiB")
    lines += [f"    {untracked_size[n] / 2**20:6.2f} MiB {untracked_count[n]:7d}  {n}"
              for n, _ in untracked_size.most_common(8)]
    return lines


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _trimmed_rss_kib() -> int:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return _rss_kib()


def _report(*_: object) -> None:
    path = os.environ["PICCHU_HEAP_REPORT"]
    rss = _rss_kib()
    sections = [f"RSS {rss / 1024:.1f} MiB, {threading.active_count()} threads"]
    for title, reader in (("resident by mapping", _resident_by_mapping), ("pymalloc", _pymalloc),
                          ("glibc malloc", _glibc_heaps), ("cyclic garbage", _cyclic_garbage),
                          ("objects", _objects)):
        try:
            sections += [f"{title}:", *reader()]
        except Exception as error:  # noqa: BLE001 (a report with a hole beats no report)
            sections.append(f"{title}: unreadable ({type(error).__name__}: {error})")
    sections.append(f"RSS after the report {_rss_kib() / 1024:.1f} MiB; after a malloc_trim too "
                    f"{_trimmed_rss_kib() / 1024:.1f} MiB")
    with open(path + ".part", "w") as report:
        report.write("\n".join(sections) + "\n")
    os.replace(path + ".part", path)


if os.environ.get("PICCHU_HEAP_REPORT"):
    signal.signal(signal.SIGUSR2, _report)
