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
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cachetools import LRUCache

Model = TypeVar("Model")


class ParsedModels:
    def __init__(self, max_objects: int = 5000) -> None:
        self._models: LRUCache[tuple[Any, str], tuple[str, Any]] = LRUCache(maxsize=max_objects)
        self._lock = threading.Lock()  # an LRUCache reorders itself on every read

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
            self._models[key] = (str(version), model)
        return model
