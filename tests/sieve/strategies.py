"""Hypothesis strategies for SIEVE: syntax trees, valid script texts, messages.

``trees()`` draws any tree the grammar allows (names need not exist): for the
parse/print/parse identity. ``valid_scripts()`` draws script text that compiles: random
nestings of real tests and actions with random strings, for the interpreter's "never
raises" property and the fuzzers' seeds. ``messages()`` draws RFC 5322-ish bytes,
sometimes broken.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from mesyx.sieve.actions import quote
from mesyx.sieve.ast import Command, Number, Script, StringList, Tag, Test

__all__ = ["trees", "valid_scripts", "messages", "sieve_strings"]

_IDENT = st.from_regex(re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,10}"), fullmatch=True).map(str.lower).filter(
    lambda name: name != "text"
)

#: String contents: anything but NUL and a CR that is not part of CRLF (RFC 5228 section 8.1).
_CHARS = st.characters(codec="utf-8", blacklist_characters="\x00\r")
sieve_strings = st.lists(st.one_of(st.text(_CHARS, max_size=12), st.just("\r\n")), max_size=3).map("".join)

_ARGUMENT = st.one_of(
    st.builds(StringList, st.lists(sieve_strings, min_size=1, max_size=3).map(tuple), st.just(True)),
    st.builds(StringList, sieve_strings.map(lambda s: (s,)), st.just(False)),
    st.builds(Number, st.integers(0, (1 << 63) - 1)),
    st.builds(Tag, _IDENT),
)


def _tests(depth: int) -> st.SearchStrategy[Test]:
    nested = st.just(()) if depth <= 0 else st.lists(_tests(depth - 1), max_size=3).map(tuple)
    return st.builds(Test, _IDENT, st.lists(_ARGUMENT, max_size=4).map(tuple), nested)


def _commands(depth: int) -> st.SearchStrategy[Command]:
    block = st.none() if depth <= 0 else st.one_of(st.none(), st.lists(_commands(depth - 1), max_size=3).map(tuple))
    return st.builds(
        Command, _IDENT, st.lists(_ARGUMENT, max_size=4).map(tuple), st.lists(_tests(2), max_size=2).map(tuple), block
    )


def trees() -> st.SearchStrategy[Script]:
    return st.builds(Script, st.lists(_commands(3), max_size=5).map(tuple))


_REQUIRE = (
    'require ["fileinto", "reject", "envelope", "encoded-character", "comparator-i;ascii-numeric", "imap4flags",'
    ' "variables", "body", "relational", "subaddress", "copy", "regex", "date", "index", "mailbox",'
    ' "spamtestplus", "vacation"];\r\n'
)
_WORD = st.text(st.characters(codec="utf-8", blacklist_characters="\x00\r"), max_size=10)
_PATTERN = st.sampled_from(["^a", "b+c?", "(x|y)z", ".*", "[0-9]{2,3}", r"\w+@\w+", ""])
_MATCH = st.one_of(
    st.sampled_from([":is", ":contains", ":matches"]),
    st.sampled_from(["gt", "ge", "lt", "le", "eq", "ne"]).flatmap(
        lambda op: st.sampled_from([f':value "{op}"', f':count "{op}"'])
    ),
)
_COMPARATOR = st.sampled_from(["", ':comparator "i;octet"', ':comparator "i;ascii-casemap"'])
_HEADERS = st.sampled_from(['"subject"', '"from"', '["to", "cc"]', '"x-spam-score"', '"date"', '"list-id"'])


def _keys() -> st.SearchStrategy[str]:
    return st.lists(_WORD, min_size=1, max_size=3).map(lambda ws: "[" + ", ".join(quote(w) for w in ws) + "]")


def _leaf_test() -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(_COMPARATOR, _MATCH, _HEADERS, _keys()).map(lambda t: f"header {t[0]} {t[1]} {t[2]} {t[3]}"),
        st.tuples(_PATTERN).map(lambda t: f"header :regex \"subject\" {quote(t[0])}"),
        st.tuples(st.sampled_from([":all", ":localpart", ":domain", ":user", ":detail"]), _MATCH, _keys()).map(
            lambda t: f'address {t[0]} {t[1]} ["from", "to"] {t[2]}'
        ),
        st.tuples(_MATCH, _keys()).map(lambda t: f'envelope {t[0]} "from" {t[1]}'),
        _HEADERS.map(lambda h: f"exists {h}"),
        st.tuples(st.sampled_from([":over", ":under"]), st.integers(0, 10**7)).map(lambda t: f"size {t[0]} {t[1]}"),
        st.tuples(st.sampled_from(["", ":raw", ":text", ':content "text"']), _MATCH, _keys()).map(
            lambda t: f"body {t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(st.sampled_from(["year", "month", "hour", "date", "weekday", "zone"]), _MATCH, _keys()).map(
            lambda t: f'date {t[1]} "date" "{t[0]}" {t[2]}'
        ),
        st.tuples(_MATCH, _keys()).map(lambda t: f'currentdate :zone "+0100" {t[0]} "year" {t[1]}'),
        st.tuples(_MATCH, _keys()).map(lambda t: f'string {t[0]} "${{subject}}" {t[1]}'),
        st.tuples(_MATCH, _keys()).map(lambda t: f"hasflag {t[0]} {t[1]}"),
        st.tuples(st.sampled_from(["", ":percent"]), _MATCH, _WORD).map(
            lambda t: f"spamtest {t[0]} {t[1]} {quote(t[2])}"
        ),
        _keys().map(lambda k: f"mailboxexists {k}"),
        st.sampled_from(["true", "false"]),
    )


def _test(depth: int) -> st.SearchStrategy[str]:
    if depth <= 0:
        return _leaf_test()
    inner = _test(depth - 1)
    return st.one_of(
        _leaf_test(),
        inner.map(lambda t: f"not {t}"),
        st.tuples(st.sampled_from(["allof", "anyof"]), st.lists(inner, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]} ({', '.join(t[1])})"
        ),
    )


_MAILBOX = st.one_of(st.sampled_from(["INBOX", "Lists", "Junk", "a/b"]), _WORD.filter(bool))
_ACTION = st.one_of(
    st.just("keep;"),
    st.just("discard;"),
    st.just("stop;"),
    st.tuples(st.sampled_from(["", ":copy ", ':flags "\\\\Seen" ', ":create "]), _MAILBOX).map(
        lambda t: f"fileinto {t[0]}{quote(t[1])};"
    ),
    st.sampled_from(["", ":copy "]).map(lambda c: f'redirect {c}"someone@example.org";'),
    _WORD.map(lambda w: f"reject {quote(w)};"),
    st.tuples(st.sampled_from(["setflag", "addflag", "removeflag"]), _keys()).map(lambda t: f"{t[0]} {t[1]};"),
    st.tuples(st.sampled_from(["", ":lower ", ":upperfirst ", ":length ", ":quotewildcard "]), _WORD).map(
        lambda t: f'set {t[0]}"subject" {quote(t[1])};'
    ),
    st.tuples(st.integers(1, 30), _WORD).map(lambda t: f'vacation :days {t[0]} :subject "away" {quote(t[1])};'),
)


def _block(depth: int) -> st.SearchStrategy[str]:
    if depth <= 0:
        return st.lists(_ACTION, max_size=3).map(" ".join)
    return st.lists(
        st.one_of(
            _ACTION,
            st.tuples(_test(2), _block(depth - 1), st.one_of(st.none(), _block(depth - 1))).map(
                lambda t: f"if {t[0]} {{ {t[1]} }}" + ("" if t[2] is None else f" else {{ {t[2]} }}")
            ),
        ),
        max_size=4,
    ).map("\r\n".join)


def valid_scripts() -> st.SearchStrategy[str]:
    return _block(2).map(lambda body: _REQUIRE + body + "\r\n")


_HEADER_LINE = st.one_of(
    st.sampled_from(
        [
            b"From: Alice <alice@example.org>",
            b"To: bob+lists@example.com, \"Carol\" <carol@example.net>",
            b"Subject: =?UTF-8?B?SGVsbG8gd29ybGQ=?=",
            b"Date: Mon, 23 Nov 2026 10:00:00 +0100",
            b"X-Spam-Score: 7.5",
            b"List-Id: <list.example.org>",
            b"Content-Type: multipart/mixed; boundary=b",
            b"Auto-Submitted: no",
        ]
    ),
    st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)


def messages() -> st.SearchStrategy[bytes]:
    body = st.one_of(
        st.binary(max_size=300),
        st.just(b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"),
    )
    return st.tuples(st.lists(_HEADER_LINE, max_size=8), body).map(lambda t: b"\r\n".join(t[0]) + b"\r\n\r\n" + t[1])
