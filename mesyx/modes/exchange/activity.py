"""Which peers are talking to this node's listener: so a pair moves each change once.

Both nodes of a pair run a task towards the other, and each round pulls what its node
lacks. If the other side also pushed it, every change would cross the wire twice (the
second copy skipped as a duplicate, but paid for in bytes: issue 6 asks for at most
1.1 x the missing payload). So a task pushes only to a peer that is *not* itself running
rounds against us: one with no request open here and none in the last few seconds (a
peer behind NAT that we can reach but that cannot reach us, one that is down or backed
off). A peer that is active holds a ``wait`` here, which answers at once when our data
changes, and then pulls: new data reaches it just as fast.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["PeerActivity"]

#: Seconds after its last request during which a peer still counts as pulling by itself
#: (it is between a wait's answer and its next request).
LINGER: Final = 5.0


class PeerActivity:
    def __init__(self, linger: float = LINGER) -> None:
        self._open: Counter[str] = Counter()
        self._last: dict[str, float] = {}
        self._linger = linger

    @contextmanager
    def request(self, node_id: str) -> Iterator[None]:
        """Around each authenticated request of a peer."""
        self._open[node_id] += 1
        try:
            yield
        finally:
            self._open[node_id] -= 1
            self._last[node_id] = time.monotonic()

    def active(self, node_id: str) -> bool:
        """Whether the peer runs rounds against us now (and so pulls what it lacks itself)."""
        if self._open[node_id] > 0:
            return True
        last = self._last.get(node_id)
        return last is not None and time.monotonic() - last < self._linger
