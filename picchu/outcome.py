"""What a pass can answer besides "run me again in N seconds": `Park`, "I cannot progress, back me off".

A pass whose object is broken (invalid spec, credentials that do not work, every cluster of its fleet
unreachable) has done its job once it reported the problem (condition and Event). Running it again every
sync period only burns workers and apiserver requests that other apps need (issue 16: one team's ~1,200 broken
objects made another team's ramp 8.5x slower). So such a pass returns `Park`: the work queue then retries it
with a growing, capped back-off and runs it at once when its object changes. It lives outside the layers so
the engine (which decides) and the handlers (whose queue schedules) can both name it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Park:
    """The pass could not make progress; `reason` is for logs. `delay` is the first back-off step (seconds)."""

    reason: str
    delay: float = 1.0
