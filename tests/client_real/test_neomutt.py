"""neomutt, driven through tmux as a person would, against a real node (issue 3).

It reads and flags a message (plain on loopback, STARTTLS, TLS), deletes and expunges,
saves to another mailbox, sees new mail arrive while INBOX is open, and resynchronises
a header cache with CONDSTORE/QRESYNC. neomutt runs in a detached tmux session on a
socket of the test's own, with a muttrc of the test's own (``-n``: no system config,
HOME pointing at a temp dir) and, unless a test says otherwise, no header or body cache,
so everything it shows came from the server just now. Keys go in with ``tmux
send-keys``; the screen comes back with ``tmux capture-pane -p`` and is polled.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.client_real.conftest import (
    ADDRESS,
    PASSPHRASE,
    Stored,
    certificate,
    deliver,
    imap_port,
    imaps_port,
    login,
    mailbox_contents,
    require,
)
from tests.client_real.tmux import Tmux
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow


def muttrc(node: Node, security: str, certificates: Path, extra: Sequence[str] = ()) -> str:
    """``security``: "plain" (imap:// on loopback), "starttls" (imap:// on port base + 143,
    TLS required) or "tls" (imaps:// on port base + 993). With TLS the node's certificate
    is the only one trusted: ``certificate_file`` lists the certificates neomutt accepts."""
    scheme, port = ("imaps", imaps_port(node)) if security == "tls" else ("imap", imap_port(node))
    return "\n".join([
        f'set folder="{scheme}://127.0.0.1:{port}/"',
        f'set imap_user="{ADDRESS}"',
        f'set imap_pass="{PASSPHRASE}"',
        'set spoolfile="+INBOX"',
        f'set certificate_file="{certificates}"',
        f"set ssl_starttls={'yes' if security == 'starttls' else 'no'}",
        f"set ssl_force_tls={'no' if security == 'plain' else 'yes'}",
        'set header_cache=""',
        'set message_cachedir=""',
        "set quit=yes",
        "set move=no",
        "set wait_key=no",
        "set sort=date",
        "set confirmappend=no",
        "set delete=yes",
        "set timeout=1",
        "set mail_check=1",
        *extra,
        "",
    ])


def start_neomutt(node: Node, security: str, tmp_path: Path, sessions: list[Tmux], extra: Sequence[str] = (),
                  log: Path | None = None) -> Tmux:
    """neomutt on INBOX in a tmux session (see :func:`muttrc`; ``extra`` lines go at its
    end), once the index is drawn. With ``log``, neomutt writes its debug log there
    (level 2: every command it sends), as ``<log>0``."""
    neomutt = require("neomutt", "neomutt")
    shutil.copyfile(certificate(node), tmp_path / "certificates")
    (tmp_path / "muttrc").write_text(muttrc(node, security, tmp_path / "certificates", extra), encoding="utf-8")
    env = {"HOME": str(tmp_path), "TERM": "screen", "LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "")}
    debug = ["-d", "2", "-l", str(log)] if log is not None else []
    command = [neomutt, "-n", *debug, "-F", str(tmp_path / "muttrc")]
    tmux = Tmux(require("tmux", "tmux"), tmp_path / "tmux.sock", command, env)
    sessions.append(tmux)
    tmux.wait_screen("+INBOX", "q:Quit")
    return tmux


def go_to(tmux: Tmux, subject: str) -> None:
    """Put the index cursor on the message with ``subject`` (neomutt's search, ``/``)."""
    tmux.wait_screen(subject)
    tmux.keys("/", subject, "Enter")
    time.sleep(0.3)


def quit_neomutt(tmux: Tmux) -> None:
    """``q``: neomutt writes pending flag changes and expunges back, then exits."""
    tmux.keys("q")
    tmux.wait_exit()


def find(node: Node, mailbox: str, subject: str) -> list[Stored]:
    """The messages of ``mailbox`` whose Subject is ``subject``, read over imaplib."""
    client = login(node)
    try:
        return [s for s in mailbox_contents(client, mailbox).values() if f"Subject: {subject}\r\n".encode() in s.raw]
    finally:
        client.logout()


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
def test_read_and_flag_a_message(real_node: Node, security: str, tmp_path: Path, tmux_sessions: list[Tmux]) -> None:
    tag = uuid.uuid4().hex[:8]
    subject, body = f"neomutt {security} {tag}", f"The body line {tag} is on the screen."
    deliver(real_node, subject, body + "\n")
    tmux = start_neomutt(real_node, security, tmp_path, tmux_sessions)
    go_to(tmux, subject)
    tmux.keys("Enter")  # open it in the pager
    tmux.wait_screen(f"Subject: {subject}", body)
    tmux.keys("q")  # back to the index
    tmux.wait_screen("q:Quit")
    tmux.keys("F")  # flag the current message
    time.sleep(0.3)
    quit_neomutt(tmux)
    ours = find(real_node, "INBOX", subject)
    assert len(ours) == 1
    assert {"\\Flagged", "\\Seen"} <= ours[0].flags, ours[0].flags


def test_delete_save_to_archive_and_sync(real_node: Node, tmp_path: Path, tmux_sessions: list[Tmux]) -> None:
    """``d`` then ``$`` expunges; ``s`` to =Archive moves the message there."""
    tag = uuid.uuid4().hex[:8]
    doomed, archived = f"to delete {tag}", f"to archive {tag}"
    deliver(real_node, doomed, "delete me\n")
    deliver(real_node, archived, "keep me in the archive\n")
    tmux = start_neomutt(real_node, "plain", tmp_path, tmux_sessions)
    go_to(tmux, doomed)
    tmux.keys("d")
    go_to(tmux, archived)
    tmux.keys("s")
    tmux.wait_screen("Save to mailbox")
    tmux.keys("C-u", "=Archive", "Enter")
    time.sleep(0.5)
    tmux.keys("$")  # sync: expunge what is marked deleted
    time.sleep(0.5)
    quit_neomutt(tmux)
    assert find(real_node, "INBOX", doomed) == []
    assert find(real_node, "INBOX", archived) == []
    assert len(find(real_node, "Archive", archived)) == 1


@pytest.mark.parametrize("idle", [False, True], ids=["noop", "idle"])
def test_new_mail_shows_up_while_the_inbox_is_open(real_node: Node, idle: bool, tmp_path: Path,
                                                   tmux_sessions: list[Tmux]) -> None:
    """neomutt checks the open mailbox every ``timeout`` seconds, with NOOP or (with
    ``imap_idle``) in IDLE (RFC 2177); the server's untagged EXISTS (RFC 9051 section
    7.4.1) makes the new message appear in the index."""
    extra = ["set imap_idle=yes"] if idle else []
    tmux = start_neomutt(real_node, "plain", tmp_path, tmux_sessions, extra, log=tmp_path / "debug")
    time.sleep(1.5)  # let it settle into its check loop (and, with imap_idle, into IDLE)
    subject = f"arrived while open {uuid.uuid4().hex[:8]}"
    deliver(real_node, subject, "hello while you look\n")
    tmux.wait_screen(subject)
    quit_neomutt(tmux)
    sent = (tmp_path / "debug0").read_text(encoding="utf-8", errors="replace")
    assert ("> DONE" in sent) is idle, "expected IDLE to be used exactly when imap_idle is set"


def _index_line(screen: str, subject: str) -> str:
    return next(line for line in screen.splitlines() if line.rstrip().endswith(subject))


def test_header_cache_resyncs_with_condstore_and_qresync(real_node: Node, tmp_path: Path,
                                                         tmux_sessions: list[Tmux]) -> None:
    """With a header cache and ``imap_condstore``/``imap_qresync``, neomutt reopens INBOX
    with ``UID FETCH 1:* (FLAGS) (CHANGEDSINCE m VANISHED)`` (RFC 7162 section 3.2.6)
    and must see a flag set, a message expunged and one delivered in the meantime."""
    tag = uuid.uuid4().hex[:8]
    gone, flagged, kept, arrived = (f"qresync {word} {tag}" for word in ("gone", "flagged", "kept", "arrived"))
    for subject in (gone, flagged, kept):
        deliver(real_node, subject, "cached\n")
    extra = [f'set header_cache="{tmp_path / "hcache"}/"', "set imap_condstore=yes", "set imap_qresync=yes"]
    (tmp_path / "hcache").mkdir()
    first = start_neomutt(real_node, "plain", tmp_path, tmux_sessions, extra)
    first.wait_screen(gone, flagged, kept)
    quit_neomutt(first)

    client = login(real_node)
    try:
        by_subject = {next(line for line in s.raw.split(b"\r\n") if line.startswith(b"Subject: ")): s.uid
                      for s in mailbox_contents(client, "INBOX").values()}
        client.select("INBOX")
        assert client.uid("STORE", str(by_subject[f"Subject: {flagged}".encode()]), "+FLAGS", "(\\Flagged)")[0] == "OK"
        assert client.uid("STORE", str(by_subject[f"Subject: {gone}".encode()]), "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert client.expunge()[0] == "OK"
    finally:
        client.logout()
    deliver(real_node, arrived, "new since the cache\n")

    second = start_neomutt(real_node, "plain", tmp_path, tmux_sessions, extra, log=tmp_path / "debug")
    screen = second.wait_screen(arrived, kept)
    quit_neomutt(second)
    assert gone not in screen, screen
    assert "!" in _index_line(screen, flagged)[:12], screen
    assert "!" not in _index_line(screen, kept)[:12], screen
    sent = (tmp_path / "debug0").read_text(encoding="utf-8", errors="replace")
    assert "CHANGEDSINCE" in sent and "VANISHED" in sent, "neomutt did not take the QRESYNC path"
