"""Hybrid logical clocks (Kulkarni et al., 2014) for stamping operations.

A stamp packs 48 bits of wall-clock milliseconds and a 16-bit logical counter into one
u64, so stamps compare as integers, stay close to real time, and still order every
event a node has seen before the ones it originates next, whatever the peers' clocks say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["HybridClock", "pack", "unpack"]

_LOGICAL_BITS = 16
_LOGICAL_MASK = (1 << _LOGICAL_BITS) - 1


def pack(millis: int, logical: int) -> int:
    return (millis << _LOGICAL_BITS) | logical


def unpack(stamp: int) -> tuple[int, int]:
    return stamp >> _LOGICAL_BITS, stamp & _LOGICAL_MASK


class HybridClock:
    """Thread-safe HLC; ``now()`` for local events, ``observe()`` for received stamps."""

    def __init__(self, wall_ms: Callable[[], int] | None = None, last: int = 0) -> None:
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._last = last
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            last_ms, last_logical = unpack(self._last)
            wall = self._wall_ms()
            if wall > last_ms:
                self._last = pack(wall, 0)
            else:
                self._last = self._bump(last_ms, last_logical)
            return self._last

    def observe(self, stamp: int) -> int:
        """Merge a stamp received from a peer; later local stamps sort after it."""
        with self._lock:
            self._last = max(self._last, stamp)
            return self._last

    @staticmethod
    def _bump(millis: int, logical: int) -> int:
        if logical == _LOGICAL_MASK:
            return pack(millis + 1, 0)
        return pack(millis, logical + 1)
