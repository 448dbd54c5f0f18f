"""Session commands and tags parsed from the examples of their RFCs (RFC 3501
section 6, RFC 9051 section 6, the extension RFCs), plus the grammar's edge cases."""

from __future__ import annotations

import pytest

from mesyx.proto.imap import commands as c
from tests.proto_imap.helpers import bad, parse

# -- any state, not authenticated -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "cls"),
    [
        ("a001 CAPABILITY", c.Capability),
        ("a002 NOOP", c.Noop),
        ("A023 LOGOUT", c.Logout),
        ("a001 STARTTLS", c.StartTls),
        ("A001 NAMESPACE", c.Namespace),
        ("a047 IDLE", c.Idle),
        ("FXXZ CHECK", c.Check),
        ("A341 CLOSE", c.Close),
        ("A343 UNSELECT", c.Unselect),
        ("A202 EXPUNGE", c.Expunge),
        ("a001 noop", c.Noop),
        ("a001 NoOp", c.Noop),
    ],
)
def test_commands_without_arguments(line: str, cls: type[c.Command]) -> None:
    command = parse(line)
    assert type(command) is cls
    assert command.tag == line.split()[0]


@pytest.mark.parametrize("line", ["a1 NOOP extra", "a1 NOOP ", "a1 CAPABILITY x", "a1 IDLE now"])
def test_no_arguments_allowed(line: str) -> None:
    assert bad(line).tag == "a1"


def test_login() -> None:
    assert parse("a001 LOGIN SMITH SESAME") == c.Login(tag="a001", username="SMITH", password="SESAME")
    assert parse('a1 LOGIN "fred smith" "p\\"w\\\\d"') == c.Login(tag="a1", username="fred smith", password='p"w\\d')
    # RFC 7888 section 3's example: non-synchronizing literals.
    assert parse(b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n") == c.Login(
        tag="A001", username="FRED FOOBAR", password="fat man"
    )
    assert parse("a1 LOGIN user]x NIL").username == "user]x"  # ']' is an ASTRING-CHAR


def test_authenticate() -> None:
    assert parse("A001 AUTHENTICATE GSSAPI") == c.Authenticate(tag="A001", mechanism="GSSAPI")
    # RFC 4959 SASL-IR.
    assert parse("a AUTHENTICATE plain dGVzdAB0ZXN0AHRlc3Q=") == c.Authenticate(
        tag="a", mechanism="PLAIN", initial_response=b"test\x00test\x00test"
    )
    assert parse("a AUTHENTICATE EXTERNAL =").initial_response == b""
    assert bad("a AUTHENTICATE PLAIN dGVzd").command == "AUTHENTICATE"
    assert bad("a AUTHENTICATE PLAIN ***")


def test_id() -> None:
    # RFC 2971 section 3.3.
    assert parse('a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")') == c.Id(
        tag="a023", params=(("name", "sodr"), ("version", "19.34"), ("vendor", "Pink Floyd Music Limited"))
    )
    assert parse("a ID NIL") == c.Id(tag="a", params=None)
    assert parse('a ID ("os" NIL)') == c.Id(tag="a", params=(("os", None),))
    assert parse("a ID ()") == c.Id(tag="a", params=())
    assert bad('a ID ("name")')


def test_enable_and_compress() -> None:
    # RFC 5161 section 4.
    assert parse("t2 ENABLE CONDSTORE X-GOOD-IDEA") == c.Enable(tag="t2", capabilities=("CONDSTORE", "X-GOOD-IDEA"))
    assert parse("a ENABLE utf8=accept").capabilities == ("UTF8=ACCEPT",)
    assert bad("a ENABLE")
    # RFC 4978 section 3.
    assert parse("a COMPRESS DEFLATE") == c.Compress(tag="a", mechanism="DEFLATE")


# -- tags and command words ------------------------------------------------------------


@pytest.mark.parametrize("tag", ["a", "A001", "0", "tag]", "a.b-c", "~!#$&'"])
def test_tags(tag: str) -> None:
    assert parse(f"{tag} NOOP").tag == tag


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        ("+a NOOP", None),
        ("*a NOOP", None),
        ("a%b NOOP", None),
        ("a+b NOOP", None),
        ("(a NOOP", None),
        ("NOOP", None),
        ("a", None),
        ("* OK", None),
    ],
)
def test_bad_tags(line: str, tag: str | None) -> None:
    assert bad(line).tag == tag


def test_unknown_command_keeps_tag() -> None:
    event = bad("a9 XYZZY foo")
    assert (event.tag, event.status, event.command) == ("a9", "BAD", None)
