"""State a session keeps for one selection of a mailbox, dropped with it.

:class:`~.backend.Selected` lives from SELECT/EXAMINE until the session leaves the mailbox
(or selects another). Extensions that need more per-selection state than it holds
(``\\Recent`` claims, RFC 5267 live searches) keep it here, keyed by the selection object
and forgotten when that object is, so a new selection always starts afresh.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from mesyx.modes.client.imap.backend import Selected

__all__ = ["PerSelection"]

T = TypeVar("T")


class PerSelection(Generic[T]):
    """A map from live selections to a ``T`` made by ``factory`` on first use."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: dict[int, T] = {}

    def get(self, selected: Selected) -> T:
        key = id(selected)
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = self._factory()
            weakref.finalize(selected, self._items.pop, key, None)
        return item

    def peek(self, selected: Selected) -> T | None:
        """The state if the selection has any, without making it."""
        return self._items.get(id(selected))
