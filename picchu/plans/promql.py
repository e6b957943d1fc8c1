"""Metric names used by a PromQL expression: the names of its vector selectors (spec §11.10).

ServiceMonitors with `sloRegex: true` keep only the series the SLO queries read, so we need the metric
names in `totalQuery`/`errorQuery`. No maintained PromQL parser exists on PyPI, so this is a small lexer
that knows exactly which identifiers are *not* metric names: keywords and aggregation operators, function
names (an identifier followed by `(`), label names inside `{...}`, grouping lists after `by`/`without`/
`on`/`ignoring`/`group_left`/`group_right`, string literals, numbers and durations. It checks brackets and
strings balance; other syntax errors are left to Prometheus. `{__name__="x"}` selectors have no name (as in
Go's parser) and contribute nothing.

Errors raise `PromQLError` (a ValueError) naming the offset; never anything else.
Neighbours: `monitoring.py` (ServiceMonitor regex).
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)([a-zA-Z0-9_.]*)")
_OPERATOR_CHARS = set("+-*/%^=!<>,~@")
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = _GROUPING | {
    "and", "or", "unless", "atan2", "bool", "offset", "start", "end", "inf", "nan",
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip


class PromQLError(ValueError):
    """The expression cannot be read; the message says where."""


def metric_names(expression: str) -> set[str]:
    """Names of the vector selectors in `expression` (raises PromQLError on unbalanced input)."""
    names: set[str] = set()
    stack: list[str] = []
    position, skip_group, seen_token = 0, False, False
    while position < len(expression):
        char = expression[position]
        if char.isspace():
            position += 1
        elif char == "#":
            end = expression.find("\n", position)
            position = len(expression) if end < 0 else end
        elif char in "\"'`":
            position = _skip_string(expression, position)
            seen_token = True
        elif char in "([{":
            if char == "(" and skip_group:
                position = _skip_until(expression, position, ")")
                skip_group = False
                continue
            if char in "[{":  # label matchers, ranges and subqueries hold no metric names
                position = _skip_until(expression, position, _CLOSING[char])
                seen_token = True
                continue
            stack.append(_CLOSING[char])
            position += 1
        elif char in ")]}":
            if not stack or stack.pop() != char:
                raise PromQLError(f"unexpected {char!r} at offset {position}")
            position += 1
        elif (number := _NUMBER.match(expression, position)) and (char.isdigit() or char == "."):
            position = number.end()
            seen_token = True
        elif identifier := _IDENTIFIER.match(expression, position):
            word = identifier.group()
            position = identifier.end()
            seen_token = True
            skip_group = word in _GROUPING
            if word in _KEYWORDS or _next_char(expression, position) == "(":
                continue
            names.add(word)
        elif char in _OPERATOR_CHARS:
            position += 1
        else:
            raise PromQLError(f"unexpected character {char!r} at offset {position}")
    if stack:
        raise PromQLError(f"missing {stack[-1]!r} at the end of the expression")
    if not seen_token:
        raise PromQLError("the expression is empty")
    return names


def _next_char(text: str, position: int) -> str:
    while position < len(text) and text[position].isspace():
        position += 1
    return text[position] if position < len(text) else ""


def _skip_string(text: str, position: int) -> int:
    quote, position = text[position], position + 1
    while position < len(text):
        if text[position] == "\\" and quote != "`":
            position += 2
            continue
        if text[position] == quote:
            return position + 1
        position += 1
    raise PromQLError(f"unterminated string starting at offset {position}")


def _skip_until(text: str, position: int, closing: str) -> int:
    """Skip a (...) grouping list, {...} matcher set or [...] range, honouring strings inside."""
    start = position
    position += 1
    while position < len(text):
        char = text[position]
        if char in "\"'`":
            position = _skip_string(text, position)
            continue
        if char == closing:
            return position + 1
        if char in "([{)]}":
            raise PromQLError(f"unexpected {char!r} at offset {position}")
        position += 1
    raise PromQLError(f"missing {closing!r} for the bracket at offset {start}")
