"""Comparators and match types: how a SIEVE test compares values with keys.

Comparators (RFC 4790 section 9, RFC 5228 section 2.7.3):

* ``i;octet``: the strings as they are (code point order is UTF-8 octet order);
* ``i;ascii-casemap``: ASCII letters folded to lower case, nothing else;
* ``i;ascii-numeric`` (RFC 4790 section 9.1): the value of the leading digits; a string
  that does not start with a digit is positive infinity (equal to every other such
  string, greater than every number). It has equality and ordering only.

Match types: ``:is``, ``:contains``, ``:matches`` (RFC 5228 section 2.7.1: ``*`` any run
of characters, ``?`` one character, ``\\`` escapes), ``:regex`` (draft-ietf-sieve-regex,
POSIX extended syntax) and the relational ``:value`` / ``:count`` (RFC 5231) with ``gt ge
lt le eq ne``. ``:matches`` and ``:regex`` give match variables (RFC 5229 section 3.2):
``${0}`` the whole matched value, ``${1}``... the text of each wildcard (``*`` is
non-greedy: it takes as few characters as it can) or of each group.

Regular expressions come from users and run on untrusted text, so ``:regex`` always runs
on RE2, which is linear in the text. A ``:matches`` glob is translated to a regular
expression too: short values with at most two ``*`` use Python's :mod:`re` (quadratic at
worst, and 1 KiB bounds that; it is ten times cheaper to call than RE2 on header-sized
values), everything else goes to RE2.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

import re2

from mesyx.errors import LimitExceeded, UsageError

__all__ = ["Matcher", "ascii_fold", "numeric_value"]

_ASCII_LOWER: Final = {c: c + 32 for c in range(0x41, 0x5B)}
_LEADING_DIGITS: Final = re.compile(r"[0-9]*")
#: Values longer than this always go to RE2 for ``:matches``.
_SHORT: Final = 1024
_INFINITY: Final = float("inf")

Captures = tuple[str, ...]


def ascii_fold(text: str) -> str:
    """``text`` with ASCII upper-case letters lowered (``i;ascii-casemap``), nothing else."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def numeric_value(text: str) -> float:
    """``i;ascii-numeric``'s value of ``text`` (RFC 4790 section 9.1.1)."""
    digits = _LEADING_DIGITS.match(text)
    run = digits.group() if digits else ""
    return int(run) if run else _INFINITY


def _glob_parts(pattern: str) -> list[str]:
    """A glob as a list of ``*``, ``?`` and literal runs, escapes undone (RFC 5228 section 2.7.1)."""
    parts: list[str] = []
    literal: list[str] = []
    it = iter(pattern)
    for ch in it:
        if ch == "\\":
            literal.append(next(it, ""))
        elif ch in "*?":
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(ch)
        else:
            literal.append(ch)
    if literal:
        parts.append("".join(literal))
    return parts


def _glob_regex(parts: list[str], escape: Any) -> str:
    out = []
    for part in parts:
        out.append("(.*?)" if part == "*" else "(.)" if part == "?" else escape(part))
    return "".join(out)


@functools.lru_cache(maxsize=2048)
def _glob_py(pattern: str, fold: bool) -> re.Pattern[str]:
    flags = re.S | (re.I | re.A if fold else 0)
    return re.compile(_glob_regex(_glob_parts(pattern), re.escape), flags)


@functools.lru_cache(maxsize=2048)
def _glob_re2(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True
    return re2.compile(_glob_regex(_glob_parts(pattern), re2.escape), options)


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str, fold: bool, max_size: int) -> Any:
    if len(pattern) > max_size:
        raise LimitExceeded(f"regular expression longer than {max_size} characters")
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not fold
    try:
        # On UTF-8 bytes: google-re2 maps every str match back to character offsets, which
        # costs more than the match itself; the bytes pattern matches the same (UTF-8 mode).
        return re2.compile(pattern.encode("utf-8", "surrogatepass"), options)
    except re2.error as exc:
        raise UsageError(f"invalid regular expression {pattern[:60]!r}: {exc}") from None


def _byte_captures(m: Any, octets: bytes, groups: int) -> Captures:
    """:func:`_captures` of a match on the UTF-8 ``octets`` of a value, as text."""
    out = []
    for i in range(min(groups, 9) + 1):
        start, end = m.span(i)
        out.append(octets[start:end].decode("utf-8", "replace") if start >= 0 else "")
    return tuple(out)


def _captures(m: Any, original: str, groups: int) -> Captures:
    """``${0}`` and the groups of a match on (maybe folded) ``original``, by position."""
    out = [original[m.start() : m.end()]]
    for i in range(1, min(groups, 9) + 1):
        start, end = m.span(i)
        out.append(original[start:end] if start >= 0 else "")
    return tuple(out)


def _order(relation: str, a: Any, b: Any) -> bool:
    if relation == "eq":
        return bool(a == b)
    if relation == "ne":
        return bool(a != b)
    if relation == "gt":
        return bool(a > b)
    if relation == "ge":
        return bool(a >= b)
    if relation == "lt":
        return bool(a < b)
    return bool(a <= b)


class Matcher:
    """One test's way of comparing: match type, comparator, relation, and its keys, prepared once.

    :meth:`search` returns None when no value matches any key, else the match variables of
    the first value/key pair that matched (an empty tuple for match types that give none).
    A problem found only now (an invalid regular expression from a variable, a match type
    the comparator cannot do) raises :class:`UsageError` or :class:`LimitExceeded`.
    """

    __slots__ = ("kind", "comparator", "relation", "keys", "_prepared", "_regex_size", "_numeric_order", "_fold")

    def __init__(
        self,
        kind: str,
        comparator: str,
        keys: Sequence[str],
        relation: str | None = None,
        regex_size: int = 4096,
    ) -> None:
        self.kind = kind
        self.comparator = comparator
        self.relation = relation or "eq"
        self.keys = tuple(keys)
        self._regex_size = regex_size
        if comparator == "i;ascii-numeric" and kind in ("contains", "matches", "regex"):
            raise UsageError(f"comparator i;ascii-numeric cannot do :{kind}")
        fold = comparator == "i;ascii-casemap"
        self._fold = fold
        self._numeric_order = comparator == "i;ascii-numeric"
        prepared: tuple[Any, ...]
        if comparator == "i;ascii-numeric":
            prepared = tuple(numeric_value(k) for k in self.keys)
        elif kind == "regex":
            prepared = tuple(_regex(k, fold, regex_size) for k in self.keys)
        elif kind == "matches":
            prepared = tuple(_glob_parts(k) for k in self.keys)
        elif fold:
            prepared = tuple(ascii_fold(k) for k in self.keys)
        else:
            prepared = self.keys
        self._prepared: tuple[Any, ...] = prepared

    def search(self, values: Iterable[str]) -> Captures | None:
        kind = self.kind
        if self._numeric_order:
            return self._numeric(values)
        fold = self._fold
        keys = self._prepared
        for value in values:
            if kind == "is" or kind == "contains":
                v = ascii_fold(value) if fold else value
                if kind == "is":
                    if v in keys:
                        return ()
                elif any(k in v for k in keys):
                    return ()
            elif kind == "matches":
                found = self._glob(value, fold)
                if found is not None:
                    return found
            elif kind == "regex":
                octets = value.encode("utf-8", "surrogatepass")
                for rx in keys:
                    m = rx.search(octets)
                    if m is not None:
                        return _byte_captures(m, octets, rx.groups)
            else:  # value, count: ordering by the comparator
                v = ascii_fold(value) if fold else value
                if any(_order(self.relation, v, k) for k in keys):
                    return ()
        return None

    def _glob(self, value: str, fold: bool) -> Captures | None:
        if not value.isascii() and any("?" in parts for parts in self._prepared):
            return self._glob_octets(value, fold)
        return self._glob_chars(value, fold, self.keys, self._prepared)

    def _glob_octets(self, value: str, fold: bool) -> Captures | None:
        """``?`` is one octet for these comparators, as Pigeonhole has it: match on the UTF-8 octets.

        Each octet is taken as one Latin-1 character, so the same machinery runs; match
        variables are turned back into text (a character cut in two becomes U+FFFD).
        """
        octets = value.encode("utf-8", "surrogatepass").decode("latin-1")
        keys = tuple(k.encode("utf-8", "surrogatepass").decode("latin-1") for k in self.keys)
        found = self._glob_chars(octets, fold, keys, tuple(_glob_parts(k) for k in keys))
        if found is None:
            return None
        return tuple(c.encode("latin-1").decode("utf-8", "replace") for c in found)

    @staticmethod
    def _glob_chars(value: str, fold: bool, all_keys: tuple[str, ...], prepared: tuple[Any, ...]) -> Captures | None:
        folded: str | None = None
        for key, parts in zip(all_keys, prepared, strict=True):
            if len(parts) <= 1 and parts != ["*"] and parts != ["?"]:
                literal = parts[0] if parts else ""
                same = ascii_fold(value) == ascii_fold(literal) if fold else value == literal
                if same:
                    return (value,)
                continue
            if len(value) <= _SHORT and parts.count("*") <= 2:
                m = _glob_py(key, fold).fullmatch(value)
                if m is not None:
                    return _captures(m, value, m.re.groups)
                continue
            if fold and folded is None:
                folded = ascii_fold(value)
            rx = _glob_re2(ascii_fold(key) if fold else key)
            m = rx.fullmatch(folded if fold and folded is not None else value)
            if m is not None:
                return _captures(m, value, rx.groups)
        return None

    def _numeric(self, values: Iterable[str]) -> Captures | None:
        relation = "eq" if self.kind == "is" else self.relation
        for value in values:
            v = numeric_value(value)
            if any(_order(relation, v, k) for k in self._prepared):
                return ()
        return None
