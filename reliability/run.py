"""`make reliability`: scenarios that try to break the operator, each bounded in time and count, then a table.

Not part of `make test` (it takes minutes and reports numbers). Scenarios, in the order they run:

  kill9     kill -9 of the operator at random points during many ramps (`kill9.py`)
  secrets   credential strings searched in every log, Event, status and metric of the run (`secrets_leak.py`;
            last, so it also scans what the earlier scenarios' operators wrote)

Run: `.venv/bin/python -m reliability.run [--only kill9,secrets] [--ramps-per-app 4] [--apps 5]`.
Exits non-zero when a scenario misses its expected outcome.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import traceback
from collections.abc import Callable

from reliability import kill9, secrets_leak
from reliability.harness import Row, World


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability")
    parser.add_argument("--only", default="kill9,secrets")
    parser.add_argument("--apps", type=int, default=5)
    parser.add_argument("--ramps-per-app", type=int, default=4)
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    scenarios: dict[str, Callable[[World], Row]] = {
        "kill9": lambda w: kill9.run(w, apps=args.apps, ramps_per_app=args.ramps_per_app),
        "secrets": lambda w: secrets_leak.run(w),
    }
    rows: list[Row] = []
    started = time.monotonic()
    with World() as world:
        for name in chosen:
            t0 = time.monotonic()
            try:
                rows.append(scenarios[name](world))
            except Exception as error:  # a scenario that blows up is a failed row, the others still run
                rows.append(Row(name, False, time.monotonic() - t0, {}, [f"{type(error).__name__}: {error}",
                                                                          *traceback.format_exc().splitlines()[-3:]]))
            print(_format([rows[-1]]), flush=True)
    print("\n" + _format(rows))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"\ntotal {time.monotonic() - started:.0f}s, harness peak RSS {rss} MiB")
    return 0 if all(r.ok for r in rows) else 1


def _format(rows: list[Row]) -> str:
    lines = ["| scenario | result | seconds | numbers |", "|---|---|---|---|"]
    for r in rows:
        numbers = ", ".join(f"{k}: {v}" for k, v in r.numbers.items())
        lines.append(f"| {r.scenario} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.0f} | {numbers} |")
        lines.extend(f"|   | note | | {note} |" for note in r.notes)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
