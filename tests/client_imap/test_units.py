"""Pure helpers of the IMAP server: LIST patterns, sequence sets over a mailbox, capabilities."""

from __future__ import annotations

import pytest

from mesyx.modes.client.imap.backend import Selected
from mesyx.modes.client.imap.capabilities import capabilities
from mesyx.modes.client.imap.commands_fetch import resolve
from mesyx.modes.client.imap.commands_mailbox import list_pattern
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap.sequence import SavedResult, SeqRange, SequenceSet


@pytest.mark.parametrize(
    ("reference", "pattern", "path", "matches"),
    [
        ("", "*", "A/B/C", True),
        ("", "%", "A/B", False),
        ("", "%", "A", True),
        ("A/", "%", "A/B", True),
        ("", "A/%", "A/B/C", False),
        ("", "inbox", "INBOX", True),
        ("", "Inbox/%", "INBOX/x", True),
        ("", "sent", "Sent", False),  # only INBOX is case-insensitive
        ("", "a.b", "axb", False),  # regex characters are literal
    ],
)
def test_list_pattern(reference: str, pattern: str, path: str, matches: bool) -> None:
    assert bool(list_pattern(reference, pattern).fullmatch(path)) is matches


def _selected(uids: list[int]) -> Selected:
    box = Selected("m", "INBOX", False, 7)
    box.load([MessageInfo(u, bytes([u]), 1, (), 0.0, 10) for u in uids])
    return box


def test_resolve_sequence_numbers_and_uids() -> None:
    box = _selected([3, 5, 9, 12])
    assert resolve(box, SequenceSet((SeqRange(2, None),)), uid=False) == [5, 9, 12]
    assert resolve(box, SequenceSet((SeqRange(1, 1), SeqRange(4, 4))), uid=False) == [3, 12]
    assert resolve(box, SequenceSet((SeqRange(4, 9),)), uid=True) == [5, 9]
    assert resolve(box, SequenceSet((SeqRange(100, None),)), uid=True) == [12]  # n:* covers the largest
    assert resolve(_selected([]), SequenceSet((SeqRange(1, None),)), uid=True) == []
    assert box.seq_of(9) == 3 and box.seq_of(4) == 0
    assert resolve(box, SavedResult(), uid=True) == []  # nothing saved yet (RFC 5182 section 2.1)
    box.saved = [5, 7, 12]  # 7 was expunged since the search saved it
    assert resolve(box, SavedResult(), uid=False) == [5, 12]


def test_capabilities_depend_on_the_connection() -> None:
    remote = capabilities(authenticated=False, secure=False, loopback=False, starttls=True)
    assert "LOGINDISABLED" in remote and "STARTTLS" in remote and "AUTH=PLAIN" not in remote
    tls = capabilities(authenticated=False, secure=True, loopback=False, starttls=True)
    assert "STARTTLS" not in tls and "AUTH=PLAIN" in tls and "LOGINDISABLED" not in tls
    after = capabilities(authenticated=True, secure=True, loopback=False, starttls=True, extra=("IDLE", "MOVE"))
    assert after[0] == "IMAP4rev1" and "IDLE" in after and "AUTH=PLAIN" not in after


def test_every_extension_issue_3_requires_is_advertised() -> None:
    """A module that stops advertising its extension (or an import that goes) shows here."""
    from mesyx.modes.client.imap import service  # noqa: F401 - importing it registers every command module
    from mesyx.modes.client.imap.capabilities import backend_capabilities

    required = {
        "IMAP4rev2", "IDLE", "NAMESPACE", "UNSELECT", "ID", "ENABLE", "SPECIAL-USE", "CREATE-SPECIAL-USE",
        "LIST-EXTENDED", "LIST-STATUS", "MOVE", "UIDPLUS", "MULTIAPPEND", "LITERAL+", "ESEARCH", "SEARCHRES",
        "CONDSTORE", "QRESYNC", "BINARY", "SORT", "SORT=DISPLAY", "ESORT", "COMPRESS=DEFLATE",
    }
    advertised = set(capabilities(authenticated=True, secure=True, loopback=True, starttls=False,
                                  extra=backend_capabilities()))
    assert required <= advertised, sorted(required - advertised)
