"""Loading objects read from the API server (or a file): parse, default, validate, or raise InvalidSpec.

Why: every controller reads objects through these functions, so defaults (§3.2), webhook mutations (§3.3)
and validation apply whether or not an admission webhook is running, and bad input always surfaces as one
`InvalidSpec` (a ValueError listing field paths and fixes) instead of a crash deeper in the operator.

Neighbours: the kind modules (models), `defaults`, `validation`. Pure: takes dicts, returns models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from picchu.api.v1alpha1.cluster import Cluster
from picchu.api.v1alpha1.common import Resource
from picchu.api.v1alpha1.defaults import default_cluster, default_revision
from picchu.api.v1alpha1.others import ClusterSecrets, FaultInjector, Mirror
from picchu.api.v1alpha1.release_manager import ReleaseManager
from picchu.api.v1alpha1.revision import Revision
from picchu.api.v1alpha1.validation import (
    FieldError,
    InvalidSpec,
    validate_cluster,
    validate_cluster_secrets,
    validate_fault_injector,
    validate_release_manager,
    validate_revision,
)

ResourceT = TypeVar("ResourceT", bound=Resource)


def load_revision(obj: Mapping[str, Any]) -> Revision:
    """A Revision with defaults and webhook mutations applied; InvalidSpec when it breaks a rule."""
    return _load(Revision, obj, default_revision, validate_revision)


def load_cluster(obj: Mapping[str, Any]) -> Cluster:
    """A Cluster with `scalingFactorString` defaulted; InvalidSpec when invalid."""
    return _load(Cluster, obj, default_cluster, validate_cluster)


def load_release_manager(obj: Mapping[str, Any]) -> ReleaseManager:
    return _load(ReleaseManager, obj, None, validate_release_manager)


def load_cluster_secrets(obj: Mapping[str, Any]) -> ClusterSecrets:
    return _load(ClusterSecrets, obj, None, validate_cluster_secrets)


def load_mirror(obj: Mapping[str, Any]) -> Mirror:
    return _load(Mirror, obj, None, None)


def load_fault_injector(obj: Mapping[str, Any]) -> FaultInjector:
    return _load(FaultInjector, obj, None, validate_fault_injector)


LOADERS: dict[str, Callable[[Mapping[str, Any]], Resource]] = {
    "Revision": load_revision,
    "ReleaseManager": load_release_manager,
    "Cluster": load_cluster,
    "ClusterSecrets": load_cluster_secrets,
    "Mirror": load_mirror,
    "FaultInjector": load_fault_injector,
}


def load(obj: Mapping[str, Any]) -> Resource:
    """Load any of the six kinds, dispatching on `kind`."""
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    loader = LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is None:
        raise InvalidSpec(
            "object", "", [("kind", f"{kind!r} is not a picchu kind: use one of {sorted(LOADERS)}")]
        )
    return loader(obj)


def _load(
    model: type[ResourceT],
    obj: Mapping[str, Any],
    apply_defaults: Callable[[ResourceT], ResourceT] | None,
    validate: Callable[[ResourceT], list[FieldError]] | None,
) -> ResourceT:
    name = _object_name(obj)
    if not isinstance(obj, Mapping):
        raise InvalidSpec(model.KIND, "", [("", f"expected a {model.KIND} object, got {type(obj).__name__}")])
    try:
        parsed = model.model_validate(_plain(obj))
    except ValidationError as error:
        raise InvalidSpec(model.KIND, name, field_errors(error)) from None
    if apply_defaults is not None:
        parsed = apply_defaults(parsed)
    errors = validate(parsed) if validate is not None else []
    if errors:
        raise InvalidSpec(model.KIND, name, errors)
    return parsed


def _plain(value: Any) -> Any:
    """Plain dicts and lists all the way down (kopf hands over Mapping views, not dicts)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _object_name(obj: object) -> str:
    if isinstance(obj, Mapping):
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping) and isinstance(metadata.get("name"), str):
            return str(metadata["name"])
    return ""


def field_errors(error: ValidationError) -> list[FieldError]:
    """Pydantic errors as (wire field path, message saying how to fix it)."""
    result: list[FieldError] = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if not _is_union_branch(part)]
        path = format_path(loc)
        context = dict(item.get("ctx") or {})
        result.append((path, _fix_message(item["type"], loc, item["msg"], item.get("input"), context)))
    return result


def format_path(loc: list[str | int]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _is_union_branch(part: str | int) -> bool:
    return isinstance(part, str) and (
        part.startswith(("function-", "constrained-")) or part in {"int", "str"}
    )


_EXPECTED = {
    "int": "an integer, e.g. 3",
    "bool": "true or false (unquoted)",
    "string": 'a string; quote numbers and booleans, e.g. "1.0"',
    "float": "a number",
    "list": "a list",
    "dict": "an object (a mapping of fields)",
    "model": "an object (a mapping of fields)",
    "datetime": "an RFC3339 timestamp, e.g. 2020-05-29T14:46:42Z",
}


def _fix_message(kind: str, loc: list[str | int], message: str, value: object, ctx: dict[str, Any]) -> str:
    last = loc[-1] if loc else ""
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    if kind == "extra_forbidden":
        return f"unknown field {last!r}: remove it or correct its spelling (nothing here is silently dropped)"
    if kind == "missing":
        return f"required field {last!r} is missing: add it"
    family = kind.split("_", 1)[0]
    if family in _EXPECTED and kind.endswith(("_type", "_parsing", "_attributes_type", "_from_float")):
        return f"got {shown}: write {_EXPECTED[family]}"
    if kind == "greater_than_equal":
        return f"got {shown}: use a value of at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"got {shown}: use a value of at most {ctx.get('le')}"
    if kind == "timezone_aware":
        return "timestamp without a zone: write RFC3339 with a zone, e.g. 2020-05-29T14:46:42Z"
    if kind == "literal_error":
        return f"got {shown}: this loader reads {ctx.get('expected', 'another kind')}"
    return message.removeprefix("Value error, ")
