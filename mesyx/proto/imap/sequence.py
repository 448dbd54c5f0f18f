"""Sequence sets: message numbers and UIDs (RFC 3501 section 9 ``sequence-set``; RFC 9051 section 9).

``*`` stands for the largest number in use (held here as ``None``); a range may be written
in either order (``4:2`` is ``2:4``). ``$`` (RFC 5182 SEARCHRES) names the result saved by
an earlier ``SEARCH RETURN (SAVE)`` and is its own type, :class:`SavedResult`, so code that
takes a :data:`MessageSet` must decide what ``$`` means before it can look at numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "SeqRange",
    "SequenceSet",
    "SavedResult",
    "SAVED",
    "MessageSet",
    "compress_uids",
    "format_message_set",
    "MAX_NUMBER",
]

#: The largest message number or UID (``nz-number`` is a 32-bit unsigned value).
MAX_NUMBER: Final = 4294967295


@dataclass(frozen=True, slots=True)
class SeqRange:
    """``first[:last]`` as written; ``None`` is ``*``. A single number has ``first == last``."""

    first: int | None
    last: int | None

    def bounds(self, largest: int) -> tuple[int, int]:
        """The range as ``(low, high)`` with ``*`` replaced by ``largest`` (RFC 9051 section 9, seq-range)."""
        a = largest if self.first is None else self.first
        b = largest if self.last is None else self.last
        return (a, b) if a <= b else (b, a)

    def __str__(self) -> str:
        a = "*" if self.first is None else str(self.first)
        if self.first == self.last:
            return a
        return a + ":" + ("*" if self.last is None else str(self.last))


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A non-empty comma-separated list of numbers and ranges, kept as written."""

    ranges: tuple[SeqRange, ...]

    def __post_init__(self) -> None:
        if not self.ranges:
            raise ValueError("a sequence set has at least one range")

    @classmethod
    def of(cls, *numbers: int) -> SequenceSet:
        """A set of the given numbers, compressed into ranges."""
        return compress_uids(numbers)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.ranges)

    @property
    def has_star(self) -> bool:
        return any(r.first is None or r.last is None for r in self.ranges)

    def intervals(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged ``(low, high)`` intervals with ``*`` as ``largest``."""
        spans = sorted(r.bounds(largest) for r in self.ranges)
        merged: list[tuple[int, int]] = []
        for low, high in spans:
            if merged and low <= merged[-1][1] + 1:
                if high > merged[-1][1]:
                    merged[-1] = (merged[-1][0], high)
            else:
                merged.append((low, high))
        return merged

    def contains(self, number: int, largest: int) -> bool:
        """Is ``number`` in the set when ``*`` is ``largest``?"""
        return any(low <= number <= high for low, high in (r.bounds(largest) for r in self.ranges))

    def iter(self, largest: int) -> Iterator[int]:
        """Each number of the set from 1 to ``largest`` once, ascending, with ``*`` as ``largest``.

        Numbers above ``largest`` do not exist and are not produced, so a client's
        ``1:4294967295`` costs no more than ``1:*``. ``N:*`` with N above the largest still
        gives the largest (RFC 9051 section 6.4.8: ``UID N:*`` always names the last message);
        with ``largest == 0`` (an empty mailbox) nothing is produced.
        """
        for low, high in self.intervals(largest):
            yield from range(max(low, 1), min(high, largest) + 1)


@dataclass(frozen=True, slots=True)
class SavedResult:
    """``$``: the result saved by ``SEARCH RETURN (SAVE)`` (RFC 5182 section 2)."""

    def __str__(self) -> str:
        return "$"


SAVED: Final = SavedResult()

#: What a command may name messages with: numbers and ranges, or ``$``.
MessageSet: TypeAlias = SequenceSet | SavedResult


def compress_uids(numbers: Iterable[int]) -> SequenceSet:
    """Compress numbers (any order, duplicates allowed) into ``1:5,7,9:12`` form.

    Raises ValueError for an empty input or a number outside 1..2^32-1.
    """
    ordered = sorted(set(numbers))
    if not ordered:
        raise ValueError("cannot make a sequence set of no numbers")
    if ordered[0] < 1 or ordered[-1] > MAX_NUMBER:
        raise ValueError("sequence numbers and UIDs run from 1 to 2^32-1")
    ranges: list[SeqRange] = []
    start = prev = ordered[0]
    for n in ordered[1:]:
        if n != prev + 1:
            ranges.append(SeqRange(start, prev))
            start = n
        prev = n
    ranges.append(SeqRange(start, prev))
    return SequenceSet(tuple(ranges))


def format_message_set(numbers: Iterable[int]) -> str:
    """``compress_uids`` as wire text: ``[3, 1, 2, 7]`` gives ``1:3,7``."""
    return str(compress_uids(numbers))
