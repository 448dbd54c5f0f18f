"""Address fields as SEARCH and SORT see them (mesyx.proto.mime.address_text)."""

from __future__ import annotations

import pytest

from mesyx.proto.mime.address_text import address_search_text, display_address, first_mailbox


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"user-from@domain.org", "user-from@domain.org"),
        (b"RealFrom <user-from@domain.org>", "RealFrom <user-from@domain.org>"),
        (b"<user-from (comment)@ (comment) domain.org>", "user-from@domain.org"),
        (b"user-from@domain.org (RealFrom)", "RealFrom <user-from@domain.org>"),
        (b"a@b, c@d", "a@b, c@d"),
        (b"g: a@b, c@d;, h: e@f;", "g: a@b, c@d;h: e@f;"),
        (b"g:;", "g:;"),
        (b"=?utf-8?q?J=C3=B6rg?= <j@x>", "Jörg <j@x>"),
    ],
)
def test_search_text(value: bytes, text: str) -> None:
    assert address_search_text([value]) == text


def test_search_text_of_no_field_is_none() -> None:
    assert address_search_text([]) is None


def test_first_mailbox_is_the_local_part_or_group_name() -> None:
    assert first_mailbox(b"foo bar <user2@domain2.org>") == "user2"
    assert first_mailbox(b"user2: blah@domain1.org;") == "user2"
    assert first_mailbox(None) == ""


@pytest.mark.parametrize(
    ("value", "display"),
    [
        (b"foo bar <a@b.c>", "foo bar"),
        (b"b@c.d", "b@c.d"),
        (b"d", "d"),
        (b"=?iso-8859-1?q?foo_aar?= <e@f.g>", "foo aar"),
        (b"a: xx@xx.org, yy@yy.org;", "a"),
        (b"", ""),
    ],
)
def test_display_address(value: bytes, display: str) -> None:
    assert display_address(value) == display
