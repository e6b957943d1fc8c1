"""What the API server checks on any object before our schema sees it: apiVersion/kind, metadata.name (a
DNS-1123 subdomain), metadata.namespace (a DNS-1123 label), label keys and values, annotation keys.

Why: `picchu simulate` reads manifests from files; without these checks it accepted manifests `kubectl apply`
rejects (a template applied as is, `name: echo-${TAG}`). The operator never needs them: the objects it reads
were admitted by the API server. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from picchu.api.v1alpha1.validation import FieldError, InvalidSpec
from picchu.keys import API_VERSION

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_FIX_NAME = "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"


def is_object_name(name: str) -> bool:
    """Whether the apiserver accepts `name` as an object's name (a DNS subdomain of at most 253 characters)."""
    return len(name) <= 253 and bool(_SUBDOMAIN.match(name))


def _key_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return f"key {key!r}: the prefix before '/' must be a DNS subdomain ({_FIX_NAME})"
    if not name or len(name) > 63 or not _NAME_PART.match(name):
        return f"key {key!r}: the name must be 1-63 letters, digits, '-', '_' or '.', alphanumeric at both ends"
    return None


def meta_errors(obj: Mapping[str, Any]) -> list[FieldError]:
    """The apiserver's object-metadata rules that apply to a manifest, as (path, message with the fix)."""
    errors: list[FieldError] = []
    if obj.get("apiVersion") != API_VERSION:
        errors.append(("apiVersion", f"{obj.get('apiVersion')!r}: use {API_VERSION}"))
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return [*errors, ("metadata", "missing: add metadata.name")]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        errors.append(("metadata.name", "missing: every object needs a name"))
    elif not is_object_name(name):
        errors.append(("metadata.name", f"{name!r} is not a valid name: {_FIX_NAME} (was a template "
                                        "variable left unfilled?)"))
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 63
                                  or not _LABEL.match(namespace)):
        errors.append(("metadata.namespace", f"{namespace!r} is not a valid namespace: use lowercase letters, "
                                             "digits and '-', at most 63"))
    for key, value in (meta.get("labels") or {}).items():
        problem = _key_error(str(key))
        if problem is None and value not in (None, "") and (
                not isinstance(value, str) or len(value) > 63 or not _NAME_PART.match(value)):
            problem = f"value {value!r} of {key!r}: use at most 63 letters, digits, '-', '_' or '.'"
        if problem:
            errors.append(("metadata.labels", problem))
    for key in meta.get("annotations") or {}:
        problem = _key_error(str(key))
        if problem:
            errors.append(("metadata.annotations", problem))
    return errors


def check_manifest(obj: Mapping[str, Any]) -> None:
    """Raise InvalidSpec when the API server would reject the object's envelope."""
    errors = meta_errors(obj)
    if errors:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
        raise InvalidSpec(str(obj.get("kind") or "object"), str((meta or {}).get("name") or ""), errors)
