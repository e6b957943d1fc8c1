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

Kept models share what is equal (hash-consing), because they are never changed: a sub-model equal to one
already kept (same class, field values, and set of fields set; built only of strings, numbers, times and
such sub-models) is replaced by that one, and each model's set of fields set (`model_fields_set`) by one
shared set of equal content. A Revision model of a 700-byte manifest was ~15 KiB, ~9 KiB once its ~30 sets
were shared, and ~3 KiB for a second app's, whose defaulted release, scale and test settings equal the
first's. Shared models are held weakly: they go when the last model using them does. `model_copy` copies
the set of fields before it adds to it, so a copy with changes never touches the shared ones.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Mapping
from datetime import date, time
from enum import Enum
from typing import Any, TypeVar

from cachetools import LRUCache
from pydantic import BaseModel

Model = TypeVar("Model")


class ParsedModels:
    def __init__(self, max_objects: int = 5000) -> None:
        self._models: LRUCache[tuple[Any, str], tuple[str, Any]] = LRUCache(maxsize=max_objects)
        self._lock = threading.Lock()  # an LRUCache reorders itself on every read
        self._fields_sets: dict[frozenset[str], set[str]] = {}
        self._shared: weakref.WeakValueDictionary[Hashable, BaseModel] = weakref.WeakValueDictionary()

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
            self._share(model)
            self._models[key] = (str(version), model)
        return model

    def _share(self, value: Any) -> tuple[Any, Hashable | None]:
        """`value` with its sub-models replaced by kept equal ones, or by itself; and its content key
        (None: not shareable, e.g. a passthrough dict or list inside)."""
        if isinstance(value, BaseModel):
            keys: list[Hashable | None] = []
            for name in type(value).model_fields:
                field_value = getattr(value, name)
                shared, key = self._share(field_value)
                if shared is not field_value:
                    value.__dict__[name] = shared  # a model just parsed, not yet seen by anyone
                keys.append(key)
            fields_set = frozenset(value.__pydantic_fields_set__)
            object.__setattr__(value, "__pydantic_fields_set__",
                               self._fields_sets.setdefault(fields_set, value.__pydantic_fields_set__))
            if None in keys or value.__pydantic_extra__ or value.__pydantic_private__:
                return value, None
            kept = self._shared.setdefault((type(value), fields_set, tuple(keys)), value)
            return kept, ("model", id(kept))  # a kept model lives as long as the entries whose keys name it
        if isinstance(value, list):
            value[:] = [self._share(item)[0] for item in value]
            return value, None
        if isinstance(value, dict):
            for item in value.values():
                self._share(item)
            return value, None
        return value, _scalar_key(value)


def _scalar_key(value: Any) -> Hashable | None:
    """A key equal only for values that are interchangeable: 1, 1.0 and True differ, and so do equal times with
    other UTC offsets."""
    if value is None or isinstance(value, (str, int, Enum)):
        return (type(value), value)
    if isinstance(value, (float, date, time)):
        return (type(value), repr(value))
    return None
