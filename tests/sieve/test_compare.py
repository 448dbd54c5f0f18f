"""Comparators and match types (RFC 4790 section 9, RFC 5228 section 2.7, RFC 5229 section 3.2, RFC 5231)."""

from __future__ import annotations

import pytest

from mesyx.errors import LimitExceeded, UsageError
from mesyx.sieve.compare import Matcher, ascii_fold, numeric_value


def search(
    kind: str, values: list[str], keys: list[str], comparator: str = "i;ascii-casemap", relation: str | None = None
) -> tuple[str, ...] | None:
    return Matcher(kind, comparator, keys, relation).search(values)


def test_ascii_fold_touches_ascii_only() -> None:
    assert ascii_fold("HeLLo ÉTÉ") == "hello ÉtÉ"


@pytest.mark.parametrize(
    ("text", "value"),
    [("123", 123), ("0042abc", 42), ("abc", float("inf")), ("", float("inf")), (" 1", float("inf"))],
)
def test_numeric_value_leading_digits(text: str, value: float) -> None:
    assert numeric_value(text) == value


def test_is_and_contains_by_comparator() -> None:
    assert search("is", ["Frobnitz"], ["frobnitz"]) == ()
    assert search("is", ["Frobnitz"], ["frobnitz"], "i;octet") is None
    assert search("contains", ["MAKE MONEY FAST"], ["money"]) == ()
    assert search("contains", ["MAKE MONEY FAST"], ["money"], "i;octet") is None
    assert search("contains", ["anything"], [""]) == ()
    assert search("is", [], [""]) is None
    # Non-ASCII letters are not folded by i;ascii-casemap.
    assert search("is", ["ÉTÉ"], ["été"]) is None


def test_matches_wildcards_and_captures() -> None:
    # RFC 5229 section 3.2's example: * takes as little as it can.
    assert search("matches", ["[acme-users] [fwd] version 1.0 is out"], ["[*] *"]) == (
        "[acme-users] [fwd] version 1.0 is out",
        "acme-users",
        "[fwd] version 1.0 is out",
    )
    assert search("matches", ["<list.example.org>"], ["*<*@*"]) is None
    assert search("matches", ["Coyote <coyote@example.org>"], ["*<*@*"]) == (
        "Coyote <coyote@example.org>",
        "Coyote ",
        "coyote",
        "example.org>",
    )
    assert search("matches", ["abc"], ["a?c"]) == ("abc", "b")
    assert search("matches", ["ABC"], ["a?c"], "i;octet") is None
    assert search("matches", ["a*c"], ["a\\*c"]) == ("a*c",)
    assert search("matches", ["abc"], ["a\\*c"]) is None
    assert search("matches", ["x"], ["*"]) == ("x", "x")
    assert search("matches", ["line1\nline2"], ["*2"]) == ("line1\nline2", "line1\nline")
    # ? is one octet, as in Pigeonhole: é is two.
    assert search("matches", ["Café"], ["Caf?"]) is None
    assert search("matches", ["Café"], ["Caf??"]) == ("Café", "\ufffd", "\ufffd")
    assert search("matches", ["CAFÉ x"], ["caf* ?"]) == ("CAFÉ x", "É", "x")


def test_matches_long_values_use_re2_with_the_same_answers() -> None:
    value = "Hello " + "x" * 5000 + " World"
    assert search("matches", [value], ["hello*world"]) == (value, " " + "x" * 5000 + " ")
    assert search("matches", [value], ["*a*b*c*d"]) is None


def test_regex_captures_and_errors() -> None:
    assert search("regex", ["Subject 1234 here"], ["([0-9]+) (h.re)"]) == ("1234 here", "1234", "here")
    assert search("regex", ["ABC"], ["^abc$"]) == ("ABC",)
    assert search("regex", ["ABC"], ["^abc$"], "i;octet") is None
    assert search("regex", ["abc"], ["x|(b)"]) == ("b", "b")
    assert search("regex", ["abc"], ["(z)?c"]) == ("c", "")
    with pytest.raises(UsageError):
        Matcher("regex", "i;octet", ["("])
    with pytest.raises(LimitExceeded):
        Matcher("regex", "i;octet", ["a" * 50], regex_size=10)


def test_numeric_comparator() -> None:
    n = "i;ascii-numeric"
    assert search("is", ["0042"], ["42"], n) == ()
    assert search("is", ["abc"], ["def"], n) == ()  # both positive infinity
    assert search("value", ["abc"], ["99999"], n, "gt") == ()
    assert search("value", ["5"], ["10"], n, "lt") == ()
    assert search("value", ["5"], ["10"], "i;ascii-casemap", "lt") is None  # "5" > "10" as text
    with pytest.raises(UsageError):
        Matcher("contains", n, ["1"])


@pytest.mark.parametrize(
    ("relation", "expected"),
    [("gt", False), ("ge", True), ("lt", False), ("le", True), ("eq", True), ("ne", False)],
)
def test_relations(relation: str, expected: bool) -> None:
    assert (search("value", ["b"], ["B"], relation=relation) is not None) is expected
    assert (search("count", ["3"], ["3"], "i;ascii-numeric", relation) is not None) is expected
