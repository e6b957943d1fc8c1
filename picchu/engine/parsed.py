"""Models parsed from delivery objects, kept per object version: a pass over an unchanged world parses nothing.

Why: every idle pass parsed its ReleaseManager, each Revision of its app and each Cluster of its fleet again
(pydantic validation, defaults, webhook rules), ~1.3 ms per Revision; once unchanged plans were no longer
rendered, that was the largest part of an idle pass (py-spy at 500 apps). An object with the same uid and
resourceVersion has the same content, so it has the same model.

Invariants: one entry per object (uid), replaced when its resourceVersion changes; at most `max_objects`
entries, the least recently used dropped first, so a larger fleet parses more, never grows without bound.
Models are shared between passes and threads: callers never change them (the release core copies what it
changes, `read_entry`). An object without uid or resourceVersion (a file, a test) and an invalid object are
parsed every time: the invalid one's own pass reports it.

Each pydantic model carries the set of its fields that were set (`model_fields_set`, read only by dumps with
`exclude_unset`, which no pass does). A kept model's sets are replaced by one shared set per distinct content:
at 500 apps the ~19,000 sets of the kept models were 6.6 MiB, and only a few dozen differ. Kept models are
never changed, so no shared set is ever added to; `model_copy` copies the set before it updates it.

Short strings are interned for the same reason: a model's strings are the decoded JSON's, one object per
occurrence, and most are the same few values ("production", "True", "Released", label keys, API versions);
at 500 apps the kept models held 45,000 string objects (3.0 MiB) of 4,800 distinct values (0.6 MiB).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cachetools import LRUCache
from pydantic import BaseModel

Model = TypeVar("Model")
_INTERNED_LENGTH = 64  # longer strings are rarely repeated (messages, the last-applied configuration)


class ParsedModels:
    def __init__(self, max_objects: int = 5000) -> None:
        self._models: LRUCache[tuple[Any, str], tuple[str, Any]] = LRUCache(maxsize=max_objects)
        self._lock = threading.Lock()  # an LRUCache reorders itself on every read
        self._fields_sets: dict[frozenset[str], set[str]] = {}

    def load(self, obj: Mapping[str, Any], loader: Callable[[Mapping[str, Any]], Model]) -> Model:
        """`loader(obj)`, or the model it returned for this very version of the object."""
        metadata = obj.get("metadata") or {}
        uid, version = metadata.get("uid"), metadata.get("resourceVersion")
        if not uid or not version:
            return loader(obj)
        key = (loader, str(uid))
        with self._lock:
            found = self._models.get(key)
        if found is not None and found[0] == version:
            return found[1]  # type: ignore[no-any-return]
        model = loader(obj)
        with self._lock:
            _share_repeated_values(model, self._fields_sets)
            self._models[key] = (str(version), model)
        return model


def _share_repeated_values(value: Any, shared: dict[frozenset[str], set[str]]) -> Any:
    """`value` with the fields-set of every model inside it replaced by the shared set of equal content and
    every short string by its interned copy (models, dicts and lists are changed in place)."""
    if type(value) is str:
        return sys.intern(value) if len(value) <= _INTERNED_LENGTH else value
    if isinstance(value, BaseModel):
        fields_set = value.__pydantic_fields_set__
        object.__setattr__(value, "__pydantic_fields_set__", shared.setdefault(frozenset(fields_set), fields_set))
        fields = value.__dict__
        for name, field_value in list(fields.items()):
            fields[name] = _share_repeated_values(field_value, shared)
        if value.__pydantic_extra__:
            _share_repeated_values(value.__pydantic_extra__, shared)
    elif isinstance(value, list):
        value[:] = [_share_repeated_values(item, shared) for item in value]
    elif isinstance(value, tuple):
        for item in value:
            _share_repeated_values(item, shared)
    elif isinstance(value, dict):
        items = [(_share_repeated_values(k, shared), _share_repeated_values(v, shared)) for k, v in value.items()]
        value.clear()
        value.update(items)
    return value
