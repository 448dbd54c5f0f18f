"""The ``date`` and ``currentdate`` tests (RFC 5260 sections 4 and 5).

A date header field's value (its first occurrence, or the one ``:index`` names; for
``Received``, the part after its last ``;``, section 4.1) is parsed as an RFC 5322
date-time; one that does not parse makes the test false. It is then shown in a zone:
``:zone "+0100"``, ``:originalzone`` (the field's own offset), or by default the local
zone, which is the offset of :attr:`Environment.now` (UTC unless the pipeline says
otherwise). The date part is formatted as section 4.2 says (``year`` ``2009``, ``julian``
the Modified Julian Day, ``weekday`` ``0`` for Sunday, ``iso8601`` with a ``+01:00``
offset or ``Z``, ``std11`` as RFC 5322 writes it) and compared with the keys.

Pigeonhole (0.5, Debian) loses ``:index`` when it is written before ``:originalzone``
and then reads the first field; that is a bug there, not copied here.
"""

from __future__ import annotations

import datetime
from email.utils import parsedate_tz
from typing import Final

from mesyx.sieve.ast import Call
from mesyx.sieve.run_state import Run, pick

__all__ = ["date_test", "currentdate_test", "parse_date", "date_part"]

_MJD_EPOCH: Final = datetime.date(1858, 11, 17)
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_date(text: str) -> datetime.datetime | None:
    """An RFC 5322 date-time with its own offset (``-0000`` and none: UTC), or None."""
    try:
        parts = parsedate_tz(text)
        if parts is None:
            return None
        offset = datetime.timedelta(seconds=parts[9] or 0)
        year, month, day, hour, minute, second = parts[:6]
        return datetime.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=datetime.timezone(offset))
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def _zone(text: str) -> datetime.timezone | None:
    """``+hhmm`` / ``-hhmm`` as a zone (section 4.1); None if it is not one."""
    if len(text) != 5 or text[0] not in "+-" or not text[1:].isdigit():
        return None
    minutes = int(text[1:3]) * 60 + int(text[3:5])
    if minutes >= 24 * 60:
        return None
    return datetime.timezone(datetime.timedelta(minutes=-minutes if text[0] == "-" else minutes))


def _offset(moment: datetime.datetime, colon: bool) -> str:
    delta = moment.utcoffset() or datetime.timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}" if colon else f"{sign}{hours:02d}{mins:02d}"


def date_part(moment: datetime.datetime, part: str) -> str | None:
    """One date part of ``moment`` as RFC 5260 section 4.2 writes it; None for an unknown part.

    An unknown part makes the test false, as Pigeonhole has it (it can only come from a
    variable: the validator refuses a constant one).
    """
    if part == "year":
        return f"{moment.year:04d}"
    if part == "month":
        return f"{moment.month:02d}"
    if part == "day":
        return f"{moment.day:02d}"
    if part == "date":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if part == "julian":
        return str((moment.date() - _MJD_EPOCH).days)
    if part == "hour":
        return f"{moment.hour:02d}"
    if part == "minute":
        return f"{moment.minute:02d}"
    if part == "second":
        return f"{moment.second:02d}"
    if part == "time":
        return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    if part == "iso8601":
        # RFC 3339 section 5.6; UTC as "Z", as Pigeonhole writes it.
        offset = _offset(moment, colon=True)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if offset == "+00:00" else offset)
    if part == "std11":
        return (
            f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year:04d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {_offset(moment, colon=False)}"
        )
    if part == "zone":
        return _offset(moment, colon=False)
    if part == "weekday":
        return str(moment.isoweekday() % 7)
    return None


def _shown(run: Run, call: Call, moment: datetime.datetime) -> datetime.datetime:
    zone = call.tags.get("zone")
    shown = _zone(run.expand(zone)) if isinstance(zone, str) else None
    if shown is not None:
        return moment.astimezone(shown)
    # An invalid zone (only a variable can make one) is the local zone, as Pigeonhole has it.
    if call.tags.get("originalzone"):
        return moment
    return moment.astimezone(run.environment.now.tzinfo or datetime.UTC)


def date_test(run: Run, call: Call) -> bool:
    header, part, keys = call.positional
    name = run.expand(str(header))
    date_part_name = run.expand(str(part)).lower()
    values = []
    fields = run.message.header(name)
    # Without :index only the first field counts, as Pigeonhole reads RFC 5260 (checked with sieve-test).
    for value in pick(call, fields) if "index" in call.tags else fields[:1]:
        if name.lower() == "received":
            value = value.rpartition(";")[2]
        moment = parse_date(value)
        shown = None if moment is None else date_part(_shown(run, call, moment), date_part_name)
        if shown is not None:
            values.append(shown)
    return run.test(call, values, keys)


def currentdate_test(run: Run, call: Call) -> bool:
    part, keys = call.positional
    shown = date_part(_shown(run, call, run.environment.now), run.expand(str(part)).lower())
    return run.test(call, () if shown is None else (shown,), keys)
