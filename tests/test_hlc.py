"""Hybrid logical clocks: stamps only ever grow, whatever the wall clock does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.store.hlc import HybridClock, pack, unpack

MAX_MILLIS = (1 << 48) - 1
MAX_LOGICAL = (1 << 16) - 1


def scripted(readings: list[int]) -> Callable[[], int]:
    """A wall clock that returns ``readings`` in turn, then repeats the last one."""
    values: Iterator[int] = iter(readings)
    last = [readings[0] if readings else 0]

    def wall() -> int:
        last[0] = next(values, last[0])
        return last[0]

    return wall


@given(st.integers(0, MAX_MILLIS), st.integers(0, MAX_LOGICAL))
def test_pack_unpack_round_trip(millis: int, logical: int) -> None:
    assert unpack(pack(millis, logical)) == (millis, logical)


@given(
    st.tuples(st.integers(0, MAX_MILLIS), st.integers(0, MAX_LOGICAL)),
    st.tuples(st.integers(0, MAX_MILLIS), st.integers(0, MAX_LOGICAL)),
)
def test_packed_stamps_compare_like_their_parts(a: tuple[int, int], b: tuple[int, int]) -> None:
    assert (pack(*a) < pack(*b)) == (a < b)
    assert (pack(*a) == pack(*b)) == (a == b)


@settings(max_examples=300)
@given(st.lists(st.integers(0, 10**13), min_size=1, max_size=200))
def test_monotonic_under_any_wall_clock(readings: list[int]) -> None:
    # Wall clocks that jump back, stand still or leap ahead: stamps strictly increase.
    clock = HybridClock(scripted(readings))
    stamps = [clock.now() for _ in range(len(readings) + 5)]
    assert all(a < b for a, b in pairwise(stamps))
    # And never lag the wall clock they were read at.
    for stamp, wall in zip(stamps, readings, strict=False):
        assert unpack(stamp)[0] >= wall


def test_follows_the_wall_clock_when_it_moves_forward() -> None:
    clock = HybridClock(scripted([1000, 1005, 1010]))
    assert [clock.now() for _ in range(3)] == [pack(1000, 0), pack(1005, 0), pack(1010, 0)]


def test_standing_still_counts_logically() -> None:
    clock = HybridClock(lambda: 1000)
    assert [clock.now() for _ in range(3)] == [pack(1000, 0), pack(1000, 1), pack(1000, 2)]


def test_going_backwards_keeps_the_last_millis() -> None:
    clock = HybridClock(scripted([5000, 4000, 3000, 6000]))
    assert [clock.now() for _ in range(4)] == [pack(5000, 0), pack(5000, 1), pack(5000, 2), pack(6000, 0)]


@given(wall=st.integers(0, 10**13), future=st.integers(0, 2**63))
def test_observe_of_a_future_stamp_orders_later_events_after_it(wall: int, future: int) -> None:
    clock = HybridClock(lambda: wall)
    before = clock.now()
    merged = clock.observe(future)
    assert merged == max(before, future)
    after = clock.now()
    assert after > future and after > before


@given(wall=st.integers(1, 10**13), past=st.integers(0, 2**40))
def test_observe_of_a_past_stamp_changes_nothing(wall: int, past: int) -> None:
    clock = HybridClock(lambda: wall)
    current = clock.now()
    if past <= current:
        assert clock.observe(past) == current
        assert clock.now() > current


def test_logical_overflow_rolls_into_millis() -> None:
    clock = HybridClock(lambda: 5, last=pack(5, MAX_LOGICAL - 1))
    assert clock.now() == pack(5, MAX_LOGICAL)
    assert clock.now() == pack(6, 0)
    assert clock.now() == pack(6, 1)


def test_logical_overflow_when_the_wall_clock_lags_far_behind() -> None:
    clock = HybridClock(lambda: 0)
    clock.observe(pack(100, MAX_LOGICAL))
    assert clock.now() == pack(101, 0)


def test_many_events_in_one_millisecond_stay_ordered() -> None:
    clock = HybridClock(lambda: 7)
    stamps = [clock.now() for _ in range(3 * (MAX_LOGICAL + 1))]
    assert stamps == sorted(set(stamps))
    assert unpack(stamps[-1]) == (9, MAX_LOGICAL)


def test_restart_from_a_saved_stamp() -> None:
    saved = pack(10**12, 3)
    clock = HybridClock(lambda: 10, last=saved)
    assert clock.now() == pack(10**12, 4)


def test_default_wall_clock_is_real_time() -> None:
    import time

    stamp = HybridClock().now()
    assert abs(unpack(stamp)[0] - time.time() * 1000) < 60_000


def test_thread_safe() -> None:
    clock = HybridClock(lambda: 42)
    results: list[list[int]] = [[] for _ in range(4)]

    def work(out: list[int]) -> None:
        for _ in range(2000):
            out.append(clock.now())

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [s for out in results for s in out]
    assert len(set(everything)) == len(everything) == 8000
    for out in results:
        assert out == sorted(out)
