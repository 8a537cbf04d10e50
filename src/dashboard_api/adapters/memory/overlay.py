"""A dict seen through a unit of work's pending writes, so the memory stores can roll back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_DELETED = object()


class PendingWrites(Generic[K, V]):
    """Writes of one unit of work, applied to the committed dict on `apply`."""

    def __init__(self, committed: dict[K, V]) -> None:
        self.committed = committed
        self.changes: dict[K, object] = {}

    def apply(self) -> None:
        for key, value in self.changes.items():
            if value is _DELETED:
                self.committed.pop(key, None)
            else:
                self.committed[key] = value  # type: ignore[assignment]
        self.changes.clear()


class Overlay(Generic[K, V]):
    """Reads see committed state plus pending writes; without pending writes, writes go through."""

    def __init__(self, committed: dict[K, V], pending: PendingWrites[K, V] | None = None) -> None:
        self._committed = committed
        self._pending = pending

    def get(self, key: K) -> V | None:
        if self._pending is not None and key in self._pending.changes:
            value = self._pending.changes[key]
            return None if value is _DELETED else value  # type: ignore[return-value]
        return self._committed.get(key)

    def __contains__(self, key: K) -> bool:
        return self.get(key) is not None

    def put(self, key: K, value: V) -> None:
        if self._pending is None:
            self._committed[key] = value
        else:
            self._pending.changes[key] = value

    def delete(self, key: K) -> None:
        if self._pending is None:
            self._committed.pop(key, None)
        else:
            self._pending.changes[key] = _DELETED

    def items(self) -> Iterator[tuple[K, V]]:
        if self._pending is None or not self._pending.changes:
            yield from list(self._committed.items())
            return
        for key in {**self._committed, **self._pending.changes}:
            value = self.get(key)
            if value is not None:
                yield key, value

    def values(self) -> Iterator[V]:
        for _, value in self.items():
            yield value
