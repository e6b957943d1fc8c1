"""What people asked of a revision by hand: pause its ramp, promote it a step or all the way (issue 13).

Why: steering must be data the pure core can read, not a side channel. The ``picchu`` CLI writes annotations
under ``picchu.medium.engineering/`` on the Revision (Go Picchu ignores them); the core reads them here:

* ``paused`` (non-empty): the ramp holds at its current percent: no upward step, a canary does not end.
  Going down stays immediate, so a failure (SLO alert, abort) still rolls the revision back.
* ``promote`` = ``"<id> step"``: skip what the revision waits for *once*: the rest of the canary TTL, or the
  ramp delay before the next step. The id of a used request is kept in the status entry (``promoted``), so
  the same request is never used twice. ``"<id> full"``: skip the canary and every delay and step straight
  to ``release.max``. Both stay subject to the capacity gate (pods are provisioned for the next step
  before it is taken), the release window and failure.

Abort (``spec.failed``) and retry (clearing it) need nothing here: they are Picchu's own switch.

Neighbours: ``facts.py`` (Incarnation.policy / is_canary_pending consult this), ``decide.py`` (records used
promotions). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from picchu.api.v1alpha1.revision import Revision
from picchu.keys import ANNOTATION_PAUSED, ANNOTATION_PROMOTE
from picchu.release.ramp import LINEAR, RampPolicy

STEP = "step"
FULL = "full"


@dataclass(frozen=True)
class Promotion:
    id: str
    mode: str  # STEP or FULL


def paused(revision: Revision | None) -> bool:
    if revision is None:
        return False
    value = revision.annotations.get(ANNOTATION_PAUSED, "").strip()
    return bool(value) and value.lower() != "false"


def pause_note(revision: Revision | None) -> str:
    """The annotation's text (who paused it, and why), for hold reasons."""
    if revision is None:
        return ""
    value = revision.annotations.get(ANNOTATION_PAUSED, "").strip()
    return "" if value.lower() == "true" else value


def promotion(revision: Revision | None, used: str | None) -> Promotion | None:
    """The revision's pending promotion request: a full one always, a step one until its id was used."""
    if revision is None:
        return None
    parts = revision.annotations.get(ANNOTATION_PROMOTE, "").split()
    if len(parts) != 2 or parts[1] not in (STEP, FULL):
        return None
    request = Promotion(id=parts[0], mode=parts[1])
    if request.mode == STEP and request.id == used:
        return None
    return request


def promoted_policy(policy: RampPolicy, request: Promotion | None) -> RampPolicy:
    """The ramp policy a promotion implies: no delay (step), or no delay and straight to the cap (full)."""
    if request is None:
        return policy
    no_delay = replace(policy, geometric_delay=timedelta(0), linear_delay=timedelta(0))
    if request.mode == FULL:
        return replace(no_delay, strategy=LINEAR, linear_increment=100)
    return no_delay
