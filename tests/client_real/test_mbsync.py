"""mbsync (isync) keeps a Maildir and a Mesyx account in step, both ways (issue 3).

One module-scoped node and Maildir go through three runs, in order: the first copies
every mailbox down, the second carries changes made on both sides between runs, the
third finds nothing to do. mbsync stores messages with LF line endings and adds an
``X-TUID`` header line to each copy it makes, so a Maildir file is the server's BODY[]
with CRLF turned into LF and that one line more. Maildir flags are the letters
after ``:2,`` in a file name (D draft, F flagged, R replied, S seen, T trashed).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.client_real.conftest import (
    ADDRESS,
    PASSPHRASE,
    SPECIAL_USE,
    Stored,
    certificate,
    deliver,
    imap_port,
    imaps_port,
    login,
    mailbox_contents,
    mailbox_names,
    require,
)
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow

CREATED = "Projects"
MAILBOXES = ("INBOX", *SPECIAL_USE, CREATED)
#: IMAP system flags and their Maildir letters (isync's mapping).
#: What ``mbsync -Ds`` prints for each change it makes to either side or its state.
JOURNAL = "-> log:"
MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}


def mbsyncrc(node: Node, maildir: Path, *, tls: str) -> str:
    """A complete mbsyncrc syncing every mailbox of ADDRESS to ``maildir``.

    ``tls`` is None (plain IMAP on loopback, where LOGIN in the clear is allowed), IMAPS
    (port base + 993) or STARTTLS (port base + 143); with TLS the node's self-signed
    certificate is the only one trusted.
    """
    port = imaps_port(node) if tls == "IMAPS" else imap_port(node)
    cert = "" if tls == "None" else f"CertificateFile {certificate(node)}\n"
    return (
        f"IMAPAccount mesyx\nHost 127.0.0.1\nPort {port}\nUser {ADDRESS}\nPass \"{PASSPHRASE}\"\n"
        f"SSLType {tls}\n{cert}AuthMechs LOGIN\nTimeout 20\n\n"
        "IMAPStore mesyx-remote\nAccount mesyx\n\n"
        f"MaildirStore mesyx-local\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
        "Channel mesyx\nFar :mesyx-remote:\nNear :mesyx-local:\nPatterns *\n"
        "Create Both\nRemove None\nExpunge Both\nSyncState *\n"
    )


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str


def run_mbsync(config: Path) -> Run:
    """``mbsync -Ds -a`` with ``config``. ``-Ds`` prints the sync decisions, among them
    a ``-> log:`` line for each change mbsync journals (a message copied, flags pushed,
    an expunge), so its output shows whether a run changed anything."""
    binary = require("mbsync", "isync")
    proc = subprocess.run([binary, "-Ds", "-c", str(config), "-a"], capture_output=True, timeout=50,
                          text=True, errors="replace")
    return Run(proc.returncode, proc.stdout + proc.stderr)


def maildir_files(maildir: Path, mailbox: str) -> dict[str, bytes]:
    """Message files of one Maildir folder (cur/ and new/), by name."""
    folder = maildir / mailbox
    return {p.name: p.read_bytes() for sub in ("cur", "new") for p in sorted((folder / sub).glob("*"))}


def maildir_flags(name: str) -> set[str]:
    """IMAP flags of a Maildir file name (``...:2,FS`` -> {\\Flagged, \\Seen})."""
    letters = name.rsplit(":2,", 1)[1] if ":2," in name else ""
    return {flag for flag, letter in MAILDIR_FLAGS.items() if letter in letters}


def as_maildir(raw: bytes) -> bytes:
    """``raw`` as mbsync writes or reads it: LF line endings, without the ``X-TUID``
    header line mbsync adds to every copy it makes (to find it again after a crash)."""
    return re.sub(rb"^X-TUID: [^\n]*\n", b"", raw.replace(b"\r\n", b"\n"), count=1, flags=re.MULTILINE)


def snapshot(maildir: Path) -> dict[str, bytes]:
    """Every file under ``maildir`` (messages, .uidvalidity, .mbsyncstate), by path."""
    return {str(p.relative_to(maildir)): p.read_bytes() for p in sorted(maildir.rglob("*")) if p.is_file()}


def server_view(node: Node) -> dict[str, dict[int, Stored]]:
    client = login(node)
    try:
        return {name: mailbox_contents(client, name) for name in sorted(mailbox_names(client))}
    finally:
        client.logout()


def maildir_folders(maildir: Path) -> set[str]:
    """Folder names of a ``SubFolders Verbatim`` Maildir: ``Lists/Debian`` is Lists/Debian/cur."""
    return {str(cur.parent.relative_to(maildir)) for cur in maildir.rglob("cur") if cur.is_dir()}


def assert_converged(maildir: Path, server: dict[str, dict[int, Stored]]) -> None:
    """Each mailbox: the same messages (bytes) with the same flags on both sides."""
    assert set(server) == maildir_folders(maildir)
    for mailbox, stored in server.items():
        files = maildir_files(maildir, mailbox)
        near = sorted((as_maildir(raw), sorted(maildir_flags(name))) for name, raw in files.items())
        far = sorted((as_maildir(s.raw), sorted(s.flags & set(MAILDIR_FLAGS))) for s in stored.values())
        assert near == far, mailbox


@dataclass
class Scene:
    node: Node
    maildir: Path
    config: Path
    sent: dict[str, bytes]


@pytest.fixture(scope="module")
def scene(real_node: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """Three SMTP deliveries to INBOX, one APPEND each to Sent and Archive, a created
    mailbox holding one message, and an empty Maildir with its mbsyncrc."""
    require("mbsync", "isync")
    sent = {f"inbox {n}": deliver(real_node, f"inbox {n}", f"body of inbox message {n}\n") for n in (1, 2, 3)}
    client = login(real_node)
    try:
        assert client.create(CREATED)[0] == "OK"
        for mailbox in ("Sent", "Archive", CREATED):
            raw = f"From: {ADDRESS}\r\nSubject: kept in {mailbox}\r\n\r\nfiled in {mailbox}\r\n".encode()
            assert client.append(mailbox, "(\\Seen)", None, raw)[0] == "OK"
            sent[f"kept in {mailbox}"] = raw
    finally:
        client.logout()
    root = tmp_path_factory.mktemp("mbsync")
    maildir = root / "Mail"
    maildir.mkdir()
    config = root / "mbsyncrc"
    config.write_text(mbsyncrc(real_node, maildir, tls="None"), encoding="utf-8")
    yield Scene(real_node, maildir, config, sent)


def test_first_run_copies_every_mailbox(scene: Scene) -> None:
    run = run_mbsync(scene.config)
    assert run.returncode == 0, run.output
    assert JOURNAL in run.output
    assert maildir_folders(scene.maildir) == set(MAILBOXES)
    server = server_view(scene.node)
    assert set(server) == set(MAILBOXES)
    assert len(server["INBOX"]) == 3 and len(server[CREATED]) == 1
    assert_converged(scene.maildir, server)
    # The Maildir holds the original bytes: each message sent is the tail of one file.
    files = [raw for mailbox in MAILBOXES for raw in maildir_files(scene.maildir, mailbox).values()]
    for original in scene.sent.values():
        assert sum(as_maildir(raw).endswith(as_maildir(original)) for raw in files) == 1, original[:80]


def test_second_run_carries_changes_both_ways(scene: Scene) -> None:
    inbox = scene.maildir / "INBOX"
    files = maildir_files(scene.maildir, "INBOX")
    by_subject = {next(s for s in scene.sent if f"Subject: {s}\n".encode() in raw): name for name, raw in files.items()}
    # Near side: flag "inbox 1", delete "inbox 2", add a new message file.
    flagged = next(inbox.glob(f"*/{by_subject['inbox 1']}"))
    flagged.rename(inbox / "cur" / (flagged.name.rsplit(":2,", 1)[0] + ":2,F"))
    next(inbox.glob(f"*/{by_subject['inbox 2']}")).unlink()
    written = b"From: alice@mesyx.test\nSubject: written offline\n\nnew in the Maildir\n"
    (inbox / "new" / "1700000000.offline.test").write_bytes(written)
    # Far side: new mail, and \Answered on "inbox 3".
    arrived = deliver(scene.node, "arrived between runs", "delivered while mbsync was not looking\n")
    client = login(scene.node)
    try:
        client.select("INBOX")
        uid = next(s.uid for s in mailbox_contents(client, "INBOX").values() if b"Subject: inbox 3\r\n" in s.raw)
        client.select("INBOX")
        assert client.uid("STORE", str(uid), "+FLAGS", "(\\Answered)")[0] == "OK"
    finally:
        client.logout()

    run = run_mbsync(scene.config)
    assert run.returncode == 0, run.output
    assert JOURNAL in run.output

    server = server_view(scene.node)
    assert_converged(scene.maildir, server)
    inbox_far = {next(line for line in s.raw.split(b"\r\n") if line.startswith(b"Subject: ")): s
                 for s in server["INBOX"].values()}
    assert set(inbox_far) == {b"Subject: inbox 1", b"Subject: inbox 3", b"Subject: written offline",
                              b"Subject: arrived between runs"}
    assert "\\Flagged" in inbox_far[b"Subject: inbox 1"].flags
    assert "\\Answered" in inbox_far[b"Subject: inbox 3"].flags
    assert as_maildir(inbox_far[b"Subject: written offline"].raw) == written
    near = maildir_files(scene.maildir, "INBOX")
    assert sum(as_maildir(raw).endswith(as_maildir(arrived)) for raw in near.values()) == 1


def test_third_run_changes_nothing(scene: Scene) -> None:
    before_files, before_server = snapshot(scene.maildir), server_view(scene.node)
    run = run_mbsync(scene.config)
    assert run.returncode == 0, run.output
    assert snapshot(scene.maildir) == before_files  # same files, names (flags), state
    assert server_view(scene.node) == before_server  # same UIDs, flags and bytes
    assert JOURNAL not in run.output, run.output


def test_new_folders_and_a_removed_flag_travel(scene: Scene) -> None:
    """A folder made in the Maildir (in a hierarchy) is created on the server; a mailbox
    created over IMAP with a non-ASCII name arrives under its modified UTF-7 name (RFC
    3501 section 5.1.3; mbsync 1.4 does not convert names); \\Flagged taken off in the
    Maildir is taken off on the server. A second run brings the superior mailbox the
    server made for the new folder; a third changes nothing."""
    nested = scene.maildir / "Lists" / "Debian"
    for sub in ("cur", "new", "tmp"):
        (nested / sub).mkdir(parents=True)
    filed = b"From: list@lists.debian.test\nSubject: filed in a subfolder\n\nnested\n"
    (nested / "new" / "1700000001.nested.test").write_bytes(filed)
    flagged = next(p for p in (scene.maildir / "INBOX" / "cur").glob("*:2,F"))
    flagged.rename(flagged.with_name(flagged.name[: -len("F")]))
    client = login(scene.node)
    try:
        assert client.create("Re&AOc-us")[0] == "OK"  # "Reçus"
        assert client.append("Re&AOc-us", None, None, b"Subject: receipt\r\n\r\nfor 12 EUR\r\n")[0] == "OK"
    finally:
        client.logout()

    run = run_mbsync(scene.config)
    assert run.returncode == 0, run.output
    server = server_view(scene.node)
    assert {"Lists/Debian", "Re&AOc-us"} <= set(server)
    assert [as_maildir(s.raw) for s in server["Lists/Debian"].values()] == [filed]
    assert not any("\\Flagged" in s.flags for s in server["INBOX"].values())
    # The server made the superior name "Lists" a mailbox too (RFC 3501 section 6.3.3:
    # it SHOULD); mbsync, which listed the far side before its CREATE, pulls it next run.
    assert "Lists" in server
    run = run_mbsync(scene.config)
    assert run.returncode == 0, run.output
    assert_converged(scene.maildir, server_view(scene.node))

    run = run_mbsync(scene.config)
    assert run.returncode == 0 and JOURNAL not in run.output, run.output


@pytest.mark.parametrize("tls", ["IMAPS", "STARTTLS"])
def test_sync_over_tls_trusting_the_node_certificate(scene: Scene, tls: str, tmp_path: Path) -> None:
    """The node's self-signed P-256 certificate, given as CertificateFile, is enough."""
    maildir = tmp_path / "Mail"
    maildir.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(mbsyncrc(scene.node, maildir, tls=tls), encoding="utf-8")
    run = run_mbsync(config)
    assert run.returncode == 0, run.output
    assert "in the clear" not in run.output
    assert_converged(maildir, server_view(scene.node))
