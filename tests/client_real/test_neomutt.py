"""neomutt, driven through tmux as a person would, reads and flags a message (issue 3).

neomutt runs in a detached tmux session on a socket of the test's own, with a muttrc
of the test's own (``-n``: no system config, HOME pointing at a temp dir) and no header
or body cache, so everything it shows came from the server just now. Keys go in with
``tmux send-keys``; the screen comes back with ``tmux capture-pane -p`` and is polled
(neomutt needs a moment to connect and draw).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from tests.client_real.conftest import (
    ADDRESS,
    PASSPHRASE,
    certificate,
    deliver,
    imap_port,
    imaps_port,
    login,
    mailbox_contents,
    require,
)
from tests.client_real.tmux import SCREEN_TIMEOUT, Tmux
from tests.helpers.daemon import Node, wait_for

pytestmark = pytest.mark.slow


def muttrc(node: Node, security: str, certificates: Path) -> str:
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
        "",
    ])


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
def test_read_and_flag_a_message(real_node: Node, security: str, tmp_path: Path, tmux_sessions: list[Tmux]) -> None:
    neomutt = require("neomutt", "neomutt")
    tag = uuid.uuid4().hex[:8]
    subject, body = f"neomutt {security} {tag}", f"The body line {tag} is on the screen."
    deliver(real_node, subject, body + "\n")
    shutil.copyfile(certificate(real_node), tmp_path / "certificates")
    (tmp_path / "muttrc").write_text(muttrc(real_node, security, tmp_path / "certificates"), encoding="utf-8")
    env = {"HOME": str(tmp_path), "TERM": "screen", "LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "")}
    tmux = Tmux(require("tmux", "tmux"), tmp_path / "tmux.sock", [neomutt, "-n", "-F", str(tmp_path / "muttrc")], env)
    tmux_sessions.append(tmux)

    tmux.wait_screen(subject, "+INBOX")
    tmux.keys("/", subject, "Enter")  # search: the cursor goes to our message
    time.sleep(0.3)
    tmux.keys("Enter")  # open it in the pager
    tmux.wait_screen(f"Subject: {subject}", body)
    tmux.keys("q")  # back to the index
    tmux.wait_screen("q:Quit")
    tmux.keys("F")  # flag the current message
    time.sleep(0.3)
    tmux.keys("q")  # quit; neomutt writes the flags back (quit=yes: no question)
    wait_for(lambda: not tmux.alive(), timeout=SCREEN_TIMEOUT, interval=0.2, what="neomutt to quit")

    client = login(real_node)
    try:
        ours = [s for s in mailbox_contents(client, "INBOX").values() if f"Subject: {subject}\r\n".encode() in s.raw]
    finally:
        client.logout()
    assert len(ours) == 1
    assert {"\\Flagged", "\\Seen"} <= ours[0].flags, ours[0].flags
