"""`make reliability`: scenarios that try to break the operator, each bounded in time and count, then a table.

Not part of `make test` (it takes minutes and reports numbers). Scenarios, in the order they run:

  kill9     kill -9 of the operator at random points during ≥ 20 ramps (`kill9.py`)
  outages   target apiserver, delivery apiserver, etcd, Prometheus (hold / fail-closed), hanging Slack and
            Sentry, each mid-ramp, each with its expected outcome (`outages.py`)
  load      200 apps' Revisions applied within seconds (`load.py`)
  hostile   ≥ 10,000 generated hostile objects while a legitimate app ramps (`hostile.py`; after the others,
            since its objects stay in the delivery cluster)
  secrets   credential strings searched in every log, Event, status and metric of the run (`secrets_leak.py`;
            last, so it also scans what the earlier scenarios' operators wrote)

Run: `.venv/bin/python -m reliability.run [--only kill9,secrets] [--quick] [--markdown reliability.md]`.
`--quick` shrinks every count (a smoke run of a few minutes, not the measurement). The table is printed and
written as markdown. Exits non-zero when a scenario misses its expected outcome.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reliability import hostile, kill9, load, outages, secrets_leak
from reliability.harness import Row, World

SCENARIOS = ("kill9", "outages", "load", "hostile", "secrets")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, not the measurement")
    parser.add_argument("--markdown", type=Path, default=Path("reliability-results.md"),
                        help="where to write the table as markdown")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {SCENARIOS}")
    quick = args.quick
    scenarios: dict[str, Callable[[World], Row | list[Row]]] = {
        "kill9": lambda w: kill9.run(w, apps=2 if quick else 10, ramps_per_app=2, max_kills=8 if quick else 25),
        "outages": lambda w: outages.run(w),
        "load": lambda w: load.run(w, apps=30 if quick else 200),
        "hostile": lambda w: hostile.run(w, count=1000 if quick else 10_000),
        "secrets": lambda w: secrets_leak.run(w),
    }
    load_before = os.getloadavg()
    rows: list[Row] = []
    started = time.monotonic()
    console = Console()
    with World() as world:
        for name in chosen:
            t0 = time.monotonic()
            try:
                found = scenarios[name](world)
                rows.extend(found if isinstance(found, list) else [found])
            except Exception as error:  # a scenario that blows up is a failed row, the others still run
                rows.append(Row(name, False, time.monotonic() - t0, {}, [f"{type(error).__name__}: {error}",
                                                                          *traceback.format_exc().splitlines()[-3:]]))
            console.print(f"[bold]{name}[/bold] done in {time.monotonic() - t0:.0f}s", highlight=False)
    total = time.monotonic() - started
    header = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
              f"{load_before[0]:.1f} at start / {os.getloadavg()[0]:.1f} at end, total {total:.0f}s"
              f"{' (--quick)' if quick else ''}")
    console.print(_table(rows, header))
    args.markdown.write_text(f"{header}\n\n{markdown(rows)}\n")
    console.print(f"written to {args.markdown}")
    return 0 if rows and all(r.ok for r in rows) else 1


def markdown(rows: list[Row]) -> str:
    lines = ["| scenario | result | seconds | numbers |", "|---|---|---|---|"]
    for r in rows:
        numbers = ", ".join(f"{k}: {v}" for k, v in r.numbers.items())
        notes = "".join(f"<br>_{note.replace('|', '/')}_" for note in r.notes[:4])
        lines.append(f"| {r.scenario} | {'ok' if r.ok else '**FAILED**'} | {r.seconds:.0f} | {numbers}{notes} |")
    return "\n".join(lines)


def _table(rows: list[Row], title: str) -> Table:
    table = Table(title=title, show_lines=True)
    for column in ("scenario", "result", "seconds", "numbers"):
        table.add_column(column)
    for r in rows:
        numbers = "\n".join(f"{k}: {v}" for k, v in r.numbers.items())
        notes = "".join(f"\n[dim]{escape(note[:300])}[/dim]" for note in r.notes[:4])
        table.add_row(r.scenario, "[green]ok[/green]" if r.ok else "[red]FAILED[/red]", f"{r.seconds:.0f}",
                      escape(numbers) + notes)
    return table


if __name__ == "__main__":
    sys.exit(main())
