"""Keysets: windows of received time, which keyset accept picks, signed announcements,
private halves sealed under the master key, and shipped keyset policies."""

from __future__ import annotations

import datetime
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from mesyx.crypto.account import new_master_key
from mesyx.crypto.envelope import InnerRecord, open_message, open_wrap
from mesyx.crypto.keysets import (
    ALWAYS,
    KeysetPublic,
    KeysetRole,
    KeysetSecret,
    Window,
    window_for,
)
from mesyx.errors import ConfigError, Corrupt, CryptoError, NotFound, Temporary, UsageError
from mesyx.keyset_policy import load_policy
from mesyx.store.mailcrypt import SealingKeys
from mesyx.store.payloads import PutPayload, open_json

ACCOUNT = bytes(16)
DAY = 86400
WEEK = 7 * DAY
PERIODS = ["week", "month", "year"]
# Up to the year 2242; fractional seconds included.
timestamps = st.floats(min_value=0, max_value=2**33, allow_nan=False, allow_infinity=False)


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC).timestamp())


def utc(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


# -- windows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "label", "start"),
    [
        (ts(2026, 11, 18, 12), "2026-W47", ts(2026, 11, 16)),
        # 2026 starts on a Thursday, so it has 53 ISO weeks; week 53 runs into 2027.
        (ts(2026, 12, 31, 23, 59, 59), "2026-W53", ts(2026, 12, 28)),
        (ts(2027, 1, 1), "2026-W53", ts(2026, 12, 28)),
        (ts(2027, 1, 3, 23, 59, 59), "2026-W53", ts(2026, 12, 28)),
        (ts(2027, 1, 4), "2027-W01", ts(2027, 1, 4)),
        # Monday 2024-12-30 starts ISO week 1 of 2025.
        (ts(2024, 12, 30), "2025-W01", ts(2024, 12, 30)),
        (ts(2024, 12, 29, 23, 59, 59), "2024-W52", ts(2024, 12, 23)),
        (ts(2021, 1, 3), "2020-W53", ts(2020, 12, 28)),
        (ts(2024, 2, 29, 13), "2024-W09", ts(2024, 2, 26)),
        (0, "1970-W01", ts(1969, 12, 29)),
    ],
)
def test_iso_weeks(when: int, label: str, start: int) -> None:
    window = window_for("week", when)
    assert window == Window(start, start + WEEK, label)
    assert window.contains(when)


@pytest.mark.parametrize(
    ("when", "label", "start", "end"),
    [
        (ts(2024, 2, 29, 23, 59, 59), "2024-02", ts(2024, 2, 1), ts(2024, 3, 1)),  # leap year
        (ts(2023, 2, 15), "2023-02", ts(2023, 2, 1), ts(2023, 3, 1)),
        (ts(2100, 2, 28), "2100-02", ts(2100, 2, 1), ts(2100, 3, 1)),  # not a leap year
        (ts(2000, 2, 29), "2000-02", ts(2000, 2, 1), ts(2000, 3, 1)),  # a leap year
        (ts(2026, 12, 31, 23, 59, 59), "2026-12", ts(2026, 12, 1), ts(2027, 1, 1)),
        (ts(2027, 1, 1), "2027-01", ts(2027, 1, 1), ts(2027, 2, 1)),
        (ts(2026, 1, 31), "2026-01", ts(2026, 1, 1), ts(2026, 2, 1)),
    ],
)
def test_months(when: int, label: str, start: int, end: int) -> None:
    assert window_for("month", when) == Window(start, end, label)


def test_month_lengths() -> None:
    assert window_for("month", ts(2024, 2, 10)).end - window_for("month", ts(2024, 2, 10)).start == 29 * DAY
    assert window_for("month", ts(2023, 2, 10)).end - window_for("month", ts(2023, 2, 10)).start == 28 * DAY
    assert window_for("month", ts(2023, 4, 10)).end - window_for("month", ts(2023, 4, 10)).start == 30 * DAY


@pytest.mark.parametrize(("year", "days"), [(2023, 365), (2024, 366), (2000, 366), (2100, 365), (2026, 365)])
def test_years(year: int, days: int) -> None:
    window = window_for("year", ts(year, 7, 1))
    assert window == Window(ts(year, 1, 1), ts(year + 1, 1, 1), str(year))
    assert window.end - window.start == days * DAY
    assert window_for("year", ts(year, 12, 31, 23, 59, 59)) == window
    assert window_for("year", ts(year + 1, 1, 1)).start == window.end


@given(when=timestamps)
def test_always(when: float) -> None:
    assert window_for("always", when) == ALWAYS
    assert ALWAYS.contains(when)


def test_unknown_period() -> None:
    with pytest.raises(UsageError):
        window_for("fortnight", 0)


@settings(max_examples=300)
@given(period=st.sampled_from(PERIODS), when=timestamps)
def test_window_holds_its_time_and_its_edges(period: str, when: float) -> None:
    window = window_for(period, when)
    assert window.contains(when)
    assert window.start <= when < window.end
    assert window_for(period, window.start) == window
    assert window_for(period, window.end - 1) == window
    assert window_for(period, window.end - 0.001) == window
    assert window_for(period, window.start - 1).end == window.start


@settings(max_examples=200)
@given(period=st.sampled_from(PERIODS), when=timestamps, steps=st.integers(1, 60))
def test_windows_are_contiguous(period: str, when: float, steps: int) -> None:
    window = window_for(period, when)
    labels = {window.label}
    for _ in range(steps):
        following = window_for(period, window.end)
        assert following.start == window.end
        assert following.end > following.start
        assert following.label not in labels
        labels.add(following.label)
        window = following


@given(when=timestamps)
def test_week_shape(when: float) -> None:
    window = window_for("week", when)
    start = utc(window.start)
    assert window.end - window.start == WEEK
    assert start.weekday() == 0 and (start.hour, start.minute, start.second) == (0, 0, 0)
    iso = utc(int(when)).isocalendar()
    assert window.label == f"{iso.year}-W{iso.week:02d}"


@given(when=timestamps)
def test_month_and_year_shape(when: float) -> None:
    moment = utc(int(when))
    month = window_for("month", when)
    assert month.label == f"{moment.year}-{moment.month:02d}"
    assert utc(month.start).day == 1 and 28 * DAY <= month.end - month.start <= 31 * DAY
    year = window_for("year", when)
    assert year.label == str(moment.year)
    assert year.start <= month.start and month.end <= year.end


# -- which keyset accept picks ----------------------------------------------------------------

WEEK1 = window_for("week", ts(2026, 11, 18))
WEEK2 = window_for("week", WEEK1.end)
YEAR = window_for("year", ts(2026, 11, 18))


def make_sealing_keys(order: str = "long-first") -> tuple[SealingKeys, dict[str, KeysetSecret]]:
    keysets = {
        "week1": KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, WEEK1),
        "week2": KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, WEEK2),
        "year": KeysetSecret.generate(ACCOUNT, KeysetRole.LONG_TERM, YEAR),
        "meta": KeysetSecret.generate(ACCOUNT, KeysetRole.METADATA, ALWAYS),
    }
    names = ["year", "week1", "week2"] if order == "long-first" else ["week2", "week1", "year"]
    return SealingKeys(ACCOUNT, tuple(keysets[n].public for n in names), keysets["meta"].public), keysets


@pytest.mark.parametrize("order", ["long-first", "short-first"])
@settings(max_examples=100)
@given(offset=st.integers(0, 2 * WEEK - 1))
def test_choose_prefers_the_short_term_keyset(order: str, offset: int) -> None:
    keys, keysets = make_sealing_keys(order)
    when = WEEK1.start + offset
    expected = keysets["week1"] if when < WEEK1.end else keysets["week2"]
    assert keys.choose(when) == expected.public


@given(when=st.integers(YEAR.start, YEAR.end - 1).filter(lambda w: not WEEK1.start <= w < WEEK2.end))
def test_choose_falls_back_to_long_term(when: int) -> None:
    keys, keysets = make_sealing_keys()
    assert keys.choose(when) == keysets["year"].public


@given(when=st.one_of(st.integers(0, YEAR.start - 1), st.integers(YEAR.end, 2**33)))
def test_choose_raises_temporary_when_nothing_covers(when: int) -> None:
    keys, _ = make_sealing_keys()
    with pytest.raises(Temporary):
        keys.choose(when)


def test_metadata_keyset_is_never_chosen_for_messages() -> None:
    keysets = make_sealing_keys()[1]
    keys = SealingKeys(ACCOUNT, (keysets["meta"].public,), keysets["meta"].public)
    with pytest.raises(Temporary):
        keys.choose(ts(2026, 11, 18))


def test_seal_encrypts_to_the_chosen_keyset_and_seals_placement_to_metadata() -> None:
    keys, keysets = make_sealing_keys()
    inner = InnerRecord(WEEK2.start + 10.5, "smtp", "a@b.example", ("c@d.example",), ("inbox-id",), ("$seen",))
    item = keys.seal(inner, b"Subject: hi\r\n\r\nhello\r\n")
    assert item.wrap.keyset_id == keysets["week2"].public.keyset_id
    key = open_wrap(item.wrap, keysets["week2"].private_key)
    assert open_message(item.envelope, key) == (inner, b"Subject: hi\r\n\r\nhello\r\n")
    payload = PutPayload.decode(item.put_payload)
    assert payload.keyset_id == item.wrap.keyset_id and payload.sealed_key == item.wrap.sealed
    assert payload.meta_keyset_id == keysets["meta"].public.keyset_id
    placement = open_json(keysets["meta"].private_key, payload.sealed_placement, "placement")
    assert placement == {"mailboxes": ["inbox-id"], "keywords": ["$seen"], "received_at": WEEK2.start + 10.5}
    with pytest.raises(CryptoError):
        open_json(keysets["week2"].private_key, payload.sealed_placement, "placement")


# -- announcements --------------------------------------------------------------------------

ACCOUNT_KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()


@given(
    role=st.sampled_from(list(KeysetRole)),
    when=st.floats(min_value=WEEK, max_value=2**33),
    period=st.sampled_from([*PERIODS, "always"]),
)
@settings(max_examples=50)
def test_announcement_round_trip_and_signature(role: KeysetRole, when: float, period: str) -> None:
    public = KeysetSecret.generate(ACCOUNT, role, window_for(period, when)).public
    signature = public.sign(ACCOUNT_KEY)
    public.verify(signature, bytes(ACCOUNT_KEY.verify_key))
    decoded = KeysetPublic.from_announcement(public.announcement_bytes())
    assert decoded == public
    decoded.verify(signature, bytes(ACCOUNT_KEY.verify_key))
    with pytest.raises(CryptoError):
        public.verify(signature, bytes(OTHER_KEY.verify_key))
    with pytest.raises(CryptoError):
        public.verify(public.sign(OTHER_KEY), bytes(ACCOUNT_KEY.verify_key))


ANNOUNCED = KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, WEEK1).public
ANNOUNCED_SIG = ANNOUNCED.sign(ACCOUNT_KEY)


@settings(max_examples=150)
@given(data=st.data())
def test_announcement_any_byte_flipped_fails(data: st.DataObject) -> None:
    raw = bytearray(ANNOUNCED.announcement_bytes())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises((Corrupt, CryptoError)):
        KeysetPublic.from_announcement(bytes(raw)).verify(ANNOUNCED_SIG, bytes(ACCOUNT_KEY.verify_key))


@given(position=st.integers(0, 63), mask=st.integers(1, 255))
def test_announcement_signature_flipped_fails(position: int, mask: int) -> None:
    signature = bytearray(ANNOUNCED_SIG)
    signature[position] ^= mask
    with pytest.raises(CryptoError):
        ANNOUNCED.verify(bytes(signature), bytes(ACCOUNT_KEY.verify_key))


@pytest.mark.parametrize("cut", [0, 1, 10, -1, -32])
def test_announcement_truncated_is_corrupt(cut: int) -> None:
    with pytest.raises(Corrupt):
        KeysetPublic.from_announcement(ANNOUNCED.announcement_bytes()[:cut])
    with pytest.raises(Corrupt):
        KeysetPublic.from_announcement(ANNOUNCED.announcement_bytes() + b"\x00")


def test_changed_window_or_role_does_not_verify() -> None:
    shifted = KeysetPublic(ANNOUNCED.keyset_id, ACCOUNT, ANNOUNCED.role, WEEK2, ANNOUNCED.public_key)
    promoted = KeysetPublic(ANNOUNCED.keyset_id, ACCOUNT, KeysetRole.LONG_TERM, WEEK1, ANNOUNCED.public_key)
    moved = KeysetPublic(ANNOUNCED.keyset_id, bytes([1]) * 16, ANNOUNCED.role, WEEK1, ANNOUNCED.public_key)
    for forged in (shifted, promoted, moved):
        with pytest.raises(CryptoError):
            forged.verify(ANNOUNCED_SIG, bytes(ACCOUNT_KEY.verify_key))


# -- private halves under the master key ------------------------------------------------------


def test_private_half_round_trips_under_the_master_key() -> None:
    secret = KeysetSecret.generate(ACCOUNT, KeysetRole.LONG_TERM, YEAR)
    master = new_master_key()
    sealed = secret.seal_private(master)
    assert bytes(secret.private_key) not in sealed
    opened = KeysetSecret.unseal(secret.public, sealed, master)
    assert bytes(opened.private_key) == bytes(secret.private_key)
    assert opened.public == secret.public


def test_private_half_fails_with_the_wrong_master_key_or_tampering() -> None:
    secret = KeysetSecret.generate(ACCOUNT, KeysetRole.LONG_TERM, YEAR)
    master = new_master_key()
    sealed = secret.seal_private(master)
    with pytest.raises(CryptoError):
        KeysetSecret.unseal(secret.public, sealed, new_master_key())
    for position in (0, 23, 24, len(sealed) - 1):
        changed = bytearray(sealed)
        changed[position] ^= 1
        with pytest.raises(CryptoError):
            KeysetSecret.unseal(secret.public, bytes(changed), master)


def test_private_half_of_another_keyset_is_refused() -> None:
    first = KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, WEEK1)
    second = KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, WEEK1)
    master = new_master_key()
    with pytest.raises(Corrupt):
        KeysetSecret.unseal(second.public, first.seal_private(master), master)


# -- policies -------------------------------------------------------------------------------


@given(now=st.floats(min_value=0, max_value=2**32, allow_nan=False))
def test_weekly_policy_windows(now: float) -> None:
    policy = load_policy("weekly")
    assert policy.name == "weekly"
    windows = policy.windows(now)
    short = [w for role, w in windows if role is KeysetRole.SHORT_TERM]
    long = [w for role, w in windows if role is KeysetRole.LONG_TERM]
    meta = [w for role, w in windows if role is KeysetRole.METADATA]
    assert short[0] == window_for("week", now) and len(short) == 5
    assert long[0] == window_for("year", now) and len(long) == 2
    assert meta == [ALWAYS]
    for series in (short, long):
        assert all(a.end == b.start for a, b in pairwise(series))
        assert series[0].contains(now)


def test_weekly_policy_at_a_year_boundary() -> None:
    windows = load_policy("weekly").windows(ts(2026, 12, 30))
    labels = [w.label for _, w in windows]
    assert labels == ["2026-W53", "2027-W01", "2027-W02", "2027-W03", "2027-W04", "2026", "2027", "always"]


def write_policy(tmp_path: Path, body: str) -> str:
    path = tmp_path / "custom.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_policy_from_a_file(tmp_path: Path) -> None:
    policy = load_policy(
        write_policy(tmp_path, '[long_term]\nperiod = "month"\nahead = 2\n[metadata]\nperiod = "always"\n')
    )
    assert policy.name == "custom"
    assert [(r.value, w.label) for r, w in policy.windows(ts(2026, 11, 18))] == [
        ("long-term", "2026-11"),
        ("long-term", "2026-12"),
        ("long-term", "2027-01"),
        ("metadata", "always"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        '[short_term]\nperiod = "week"\n',  # no metadata
        '[metadata]\nperiod = "always"\n',  # no message keysets
        '[short_term]\nperiod = "fortnight"\n[metadata]\nperiod = "always"\n',
        '[short_term]\nperiod = "week"\nahead = -1\n[metadata]\nperiod = "always"\n',
        '[short_term]\nperiod = "week"\nahead = true\n[metadata]\nperiod = "always"\n',
        '[short_term]\nperiod = "week"\nahead = "4"\n[metadata]\nperiod = "always"\n',
        '[medium_term]\nperiod = "week"\n[metadata]\nperiod = "always"\n',
        'short_term = 1\n[metadata]\nperiod = "always"\n',
        "[short_term\n",
    ],
)
def test_bad_policy_files(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError):
        load_policy(write_policy(tmp_path, body))


def test_unknown_policy() -> None:
    with pytest.raises(NotFound):
        load_policy("no-such-policy")
