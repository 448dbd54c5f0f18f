"""Read TOML tables into frozen, typed dataclasses: one table-driven validator for every format.

Why table-driven: every key is checked by one walker that reads a dataclass's fields,
their types and a small :class:`Rule` (bounds, choices, a check function). Adding a key
means adding one field; its type check, range check, "unknown key, did you mean ..."
suggestion and error message follow. Every problem is one
:class:`~mesyx.errors.ConfigError` line naming the file, the dotted key and the reason::

    /h/mesyx.toml: smtp.max_message_size: expected a positive integer, got "big"

A format declares its tables as dataclasses whose fields are made with :func:`key` (a
default) or :func:`required`, then::

    fail = reporter(str(path))
    data = parse_toml(decode_utf8(path.read_bytes(), str(path)), str(path))
    refuse_unknown(data, ["smtp"], fail)  # unknown sections, with a suggestion
    smtp = build("smtp", SmtpConfig, data.get("smtp", {}), fail)

:func:`read_table` returns the checked values without building the dataclass, for a
table whose derived keys the caller computes first (the listener ports).

Types understood: ``bool``, ``int``, ``float``, ``str``, ``Literal["a", "b"]``, ``Path``
(relative to ``base``) and ``X | None`` of those; any other type needs a
:attr:`Rule.convert` of its own. Users: :mod:`mesyx.config`, :mod:`mesyx.keyset_policy`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from mesyx.errors import ConfigError

__all__ = [
    "Fail", "Invalid", "Rule", "as_str", "build", "choice_list", "convert", "decode_utf8", "dotted",
    "key", "parse_toml", "read_table", "refuse_unknown", "reporter", "required", "show",
    "suggest",
]  # fmt: skip

_T = TypeVar("_T")

#: Reports a problem with a key: ``fail("smtp.timeout", "expected ...")``; never returns.
Fail = Callable[[str, str], typing.NoReturn]


# --------------------------------------------------------------------------- field rules


@dataclass(frozen=True)
class Rule:
    """What a key accepts beyond its Python type; attached to a field's metadata.

    ``lo``/``hi`` bound numbers (inclusive), ``choices`` limits strings (and whatever a
    ``convert`` function applies them to), ``check`` returns a reason a string is bad (or
    None), ``what`` names the expected value in messages ("a number of seconds"),
    ``derived`` marks a field with no default of its own that is computed after parsing
    (the caller fills it in), ``secret`` keeps the value out of error messages (a database
    URL may hold a password), and ``convert`` turns the raw TOML value of a type the
    walker does not know into its Python value, raising :class:`Invalid` if it is bad.
    """

    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    check: Callable[[str], str | None] | None = None
    what: str | None = None
    derived: bool = False
    secret: bool = False
    convert: Callable[[object, Rule], object] | None = None


def key(default: _T, rule: Rule = Rule()) -> _T:
    """A field with a default and a validation rule."""
    return field(default=default, metadata={"rule": rule})


def required(rule: Rule = Rule()) -> Any:
    """A field that a file must set (or that is derived, see :attr:`Rule.derived`)."""
    return field(metadata={"rule": rule})


class Invalid(Exception):
    """A value is wrong; carries the reason and, optionally, a deeper key than the field.

    Raised by converters (including :attr:`Rule.convert` functions); :func:`read_table`
    turns it into a ``fail(key, reason)`` call.
    """

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


# --------------------------------------------------------------------------- messages


def reporter(where: str) -> Fail:
    """The ``fail`` function of one file: raises ``ConfigError("<where>: <key>: <reason>")``."""

    def fail(key: str, reason: str) -> typing.NoReturn:
        raise ConfigError(f"{where}: {key}: {reason}")

    return fail


def show(value: object) -> str:
    """Render a TOML value for an error message: short, one line, TOML-like."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else "a very large integer"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 40 else value[:40] + "...")
    if isinstance(value, list):
        return "an empty array" if not value else "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return f"a date/time {value.isoformat()}"
    return type(value).__name__


def dotted(*parts: str) -> str:
    """Join key parts TOML-style, quoting parts that are not bare keys."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else json.dumps(p) for p in parts)


def suggest(name: str, known: Iterable[str], prefix: str = "") -> str:
    """``'; did you mean "<prefix><closest>"?'`` for a misspelt ``name``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{prefix}{close[0]}"?' if close else ""


def choice_list(choices: Iterable[str]) -> str:
    """``"a", "b", "c"``: the allowed strings as a message shows them."""
    return ", ".join(f'"{c}"' for c in choices)


def _int_what(rule: Rule) -> str:
    lo, hi = rule.lo, rule.hi
    if lo is not None and hi is not None and hi < 10**8:
        return f"an integer from {lo:g} to {hi:g}"
    if lo == 1:
        return "a positive integer"
    if lo == 0:
        return "a non-negative integer (0 means none or unlimited)"
    return "an integer"


def _in_range(value: float, rule: Rule) -> bool:
    return (rule.lo is None or value >= rule.lo) and (rule.hi is None or value <= rule.hi)


# --------------------------------------------------------------------------- converters


def as_str(raw: object, rule: Rule, choices: tuple[str, ...] | None) -> str:
    """A string, checked against ``choices`` and ``rule.check``; raises :class:`Invalid`."""
    if choices is not None:
        if not isinstance(raw, str) or raw not in choices:
            got = "" if rule.secret else f", got {show(raw)}"
            raise Invalid(f"expected one of {choice_list(choices)}{got}")
        return raw
    if not isinstance(raw, str):
        raise Invalid(f"expected {rule.what or 'a string'}, got {show(raw)}")
    if rule.check is not None:
        reason = rule.check(raw)
        if reason is not None:
            raise Invalid(reason if rule.secret else f"{reason}, got {show(raw)}")
    return raw


def convert(tp: object, raw: object, rule: Rule, base: Path) -> object:
    """Turn one raw TOML value into a value of Python type ``tp``, or raise :class:`Invalid`.

    A relative ``Path`` is taken relative to ``base`` (a node's home directory, not the
    working directory the daemon started in).
    """
    if rule.convert is not None:
        return rule.convert(raw, rule)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        # TOML has no null: an optional key is set by writing it, unset by leaving it out.
        (inner,) = [a for a in args if a is not type(None)]
        return convert(inner, raw, rule, base)
    if tp is bool:
        if not isinstance(raw, bool):
            raise Invalid(f"expected true or false, got {show(raw)}")
        return raw
    if tp is int:
        what = rule.what or _int_what(rule)
        # bool is a subclass of int in Python, but `true` is not a number in a config.
        if isinstance(raw, bool) or not isinstance(raw, int) or not _in_range(raw, rule):
            raise Invalid(f"expected {what}, got {show(raw)}")
        return raw
    if tp is float:
        what = rule.what or "a number"
        if rule.lo is not None and rule.hi is not None:
            what = f"{what} from {rule.lo:g} to {rule.hi:g}"
        number = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        if number is None or not math.isfinite(number) or not _in_range(number, rule):
            raise Invalid(f"expected {what}, got {show(raw)}")
        return number
    if tp is str:
        return as_str(raw, rule, rule.choices)
    if origin is Literal:
        return as_str(raw, rule, tuple(str(a) for a in args))
    if tp is Path:
        if not isinstance(raw, str) or not raw or "\0" in raw:
            raise Invalid(f"expected a file path (a non-empty string), got {show(raw)}")
        path = Path(raw).expanduser()
        return path if path.is_absolute() else base / path
    raise AssertionError(f"field type {tp!r} has no converter; give its Rule a convert")  # pragma: no cover


# --------------------------------------------------------------------------- the walker


def refuse_unknown(
    raw: Mapping[str, object], known: Iterable[str], fail: Fail, *, table: str | None = None
) -> None:
    """Fail on the first name in ``raw`` that is not ``known``, suggesting a close one.

    Without ``table`` the names are a document's sections ("unknown section"); with it,
    the keys of that table ("unknown key", named ``table.key``).
    """
    names = list(known)
    for name in raw:
        if name in names:
            continue
        if table is None:
            fail(dotted(name), "unknown section" + suggest(name, names))
        fail(dotted(table, name), "unknown key" + suggest(name, names, prefix=f"{table}."))


def read_table(
    name: str, cls: type[Any], raw: object, fail: Fail, *, base: Path = Path(".")
) -> dict[str, object]:
    """Check the keys of table ``name`` against ``cls``'s fields; return converted values.

    ``raw`` is the table's TOML value (``data.get(name, {})`` for an optional section).
    Keys left out are left out of the result, so that ``cls(**values)`` applies the
    defaults; a missing required key fails unless its rule is ``derived``.
    """
    if not isinstance(raw, dict):
        fail(name, f"expected a table (a [{name}] section), got {show(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    refuse_unknown(raw, fields, fail, table=name)
    values: dict[str, object] = {}
    for fname, f in fields.items():
        rule: Rule = f.metadata.get("rule", Rule())
        if fname not in raw:
            no_default = f.default is dataclasses.MISSING and (
                f.default_factory is dataclasses.MISSING
            )
            if no_default and not rule.derived:
                fail(dotted(name, fname), "missing; this key is required")
            continue
        try:
            values[fname] = convert(hints[fname], raw[fname], rule, base)
        except Invalid as bad:
            parts = (name, fname) if bad.key is None else (name, fname, bad.key)
            fail(dotted(*parts), bad.reason)
    return values


def build(name: str, cls: type[_T], raw: object, fail: Fail, *, base: Path = Path(".")) -> _T:
    """:func:`read_table`, then ``cls(**values)``: a table with no derived keys, typed."""
    make: Callable[..., _T] = cls
    return make(**read_table(name, cls, raw, fail, base=base))


# --------------------------------------------------------------------------- the file


def decode_utf8(data: bytes, where: str) -> str:
    """The text of a file; ``ConfigError`` naming the byte if it is not UTF-8.

    utf-8-sig: tolerate the byte-order mark some editors write.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not valid UTF-8 (at byte {exc.start})") from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """``tomllib.loads`` with its errors turned into one ConfigError line naming ``where``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "syntax error"
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message)
        reason = f"line {m[2]}, column {m[3]}: invalid TOML: {m[1]}" if m else f"invalid TOML: {message}"
        raise ConfigError(f"{where}: {reason}") from None
    except RecursionError:
        raise ConfigError(f"{where}: invalid TOML: arrays or tables nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal with more than 4300 digits
        raise ConfigError(f"{where}: invalid TOML: {str(exc).splitlines()[0]}") from None
