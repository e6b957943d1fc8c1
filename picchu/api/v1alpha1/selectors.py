"""Syntax checks for the label- and field-selector strings of ClusterSecrets (spec §3.6, §17 #12).

Why: Picchu crashed on any non-empty selector string; we pass them to the API server instead, so a typo must
be reported when the ClusterSecrets is loaded (with the field path and the fix), not as an opaque 400 from a
list call in the middle of a copy. The grammar is Kubernetes' own (`labels.Parse`, `fields.ParseSelector`).

Neighbours: `validation` calls `label_selector_error` / `field_selector_error`. Pure.
"""

from __future__ import annotations

import re

__all__ = ["label_selector_error", "field_selector_error"]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}")
_VALUE = re.compile(rf"({_NAME})?")
_SET = re.compile(r"\s*(?P<key>\S+?)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*")
_COMPARE = re.compile(r"\s*(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|<|>)\s*(?P<value>\S*)\s*")
_EXISTS = re.compile(r"\s*(?P<neg>!?)\s*(?P<key>[^=!<>\s()]+)\s*")
_LABEL_HINT = "use Kubernetes label-selector syntax, e.g. 'app=web,tier!=db', 'env in (a,b)' or '!legacy'"
_FIELD_HINT = "use Kubernetes field-selector syntax, e.g. 'metadata.name=creds' or 'type!=Opaque'"


def label_selector_error(selector: str) -> str | None:
    """None when `selector` parses as a Kubernetes label selector, else what is wrong and how to fix it."""
    if not selector.strip():
        return None
    for requirement in _split_top_level(selector):
        problem = _requirement_error(requirement)
        if problem:
            return f"{problem}: {_LABEL_HINT}"
    return None


def field_selector_error(selector: str) -> str | None:
    """None when `selector` parses as a Kubernetes field selector, else what is wrong and how to fix it."""
    if not selector.strip():
        return None
    for requirement in re.split(r"(?<!\\),", selector):
        match = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)(.*)", requirement)
        if match is None:
            return f"{requirement.strip()!r} is not 'field=value' or 'field!=value': {_FIELD_HINT}"
    return None


def _split_top_level(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _requirement_error(requirement: str) -> str | None:
    if match := _SET.fullmatch(requirement):
        values = [value.strip() for value in match["values"].split(",")]
        bad = [value for value in values if not _VALUE.fullmatch(value)]
        return _key_error(match["key"]) or (f"invalid value {bad[0]!r}" if bad else None)
    if match := _COMPARE.fullmatch(requirement):
        if match["op"] in "<>":
            if not re.fullmatch(r"-?[0-9]+", match["value"]):
                return f"{requirement.strip()!r} compares with a non-integer"
            return _key_error(match["key"])
        if not _VALUE.fullmatch(match["value"]):
            return f"invalid value {match['value']!r}"
        return _key_error(match["key"])
    if match := _EXISTS.fullmatch(requirement):
        return _key_error(match["key"])
    return f"cannot parse {requirement.strip()!r}"


def _key_error(key: str) -> str | None:
    return None if _KEY.fullmatch(key) else f"invalid label key {key!r}"
