"""The settings `make demo` prints (scripts/demo-banner.sh) work, pasted as they are.

The banner is run for a real node (its home, passphrase file, account and port base);
the mbsync and neomutt blocks are cut out of its output and given to the real clients,
with only the Maildir location and the test's caches changed; the IMAP curl line is run
with the password added (curl would prompt for it), the sieve-connect line with a
password descriptor; the SIEVE test and put lines and the submission (swaks) and REST
(curl) lines, which read the passphrase file themselves, run in bash as printed. The
Thunderbird settings, which no test can click through, are checked for the right ports,
methods and certificate fingerprint.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.client_real.conftest import ADDRESS, PASSPHRASE, certificate, deliver, require
from tests.client_real.tmux import Tmux
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "hello from the banner test"


def banner(node: Node) -> str:
    assert node.passphrase_file is not None
    proc = subprocess.run(["bash", "scripts/demo-banner.sh", str(node.home), str(node.passphrase_file), ADDRESS,
                           str(node.port_base)], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    assert proc.stderr == ""
    return proc.stdout


def block_after(text: str, marker: str) -> str:
    """The indented block following the line that contains ``marker`` (blank lines inside
    it kept), dedented: what a person copies into a file."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line) + 1
    while not lines[start].strip() or not lines[start].startswith("    "):
        start += 1
    block: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


@pytest.fixture(scope="module")
def printed(real_node: Node) -> str:
    deliver(real_node, SUBJECT, "sent to try the printed settings\n")
    return banner(real_node)


def test_ports_and_thunderbird_settings(real_node: Node, printed: str) -> None:
    base = real_node.port_base
    for text in (f"port {base + 143}, connection security STARTTLS", f"port {base + 993}, SSL/TLS",
                 '"Normal password"', f"username {ADDRESS}", f"port {base + 587}, STARTTLS",
                 "Add Security Exception", f"127.0.0.1:{base + 993}", str(certificate(real_node))):
        assert text in printed, text
    cert = x509.load_pem_x509_certificate(certificate(real_node).read_bytes())
    fingerprint = ":".join(f"{byte:02X}" for byte in cert.fingerprint(hashes.SHA256()))
    assert f"SHA-256 {fingerprint}" in printed


def test_printed_mbsyncrc_syncs(printed: str, tmp_path: Path) -> None:
    mbsync = require("mbsync", "isync")
    maildir = tmp_path / "Mail"
    config = block_after(printed, "~/.mbsyncrc-mesyx, then").replace("~/Mail/mesyx-demo", str(maildir))
    assert "IMAPAccount" in config and "SyncState *" in config
    (tmp_path / "mbsyncrc").write_text(config, encoding="utf-8")
    maildir.mkdir()
    proc = subprocess.run([mbsync, "-c", str(tmp_path / "mbsyncrc"), "-a"], capture_output=True, text=True,
                          timeout=50)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = [p.read_bytes() for p in (maildir / "INBOX").glob("*/*")]
    assert any(f"Subject: {SUBJECT}\n".encode() in raw for raw in files)
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive"} <= {p.name for p in maildir.iterdir()}


def test_printed_neomuttrc_opens_the_inbox(printed: str, tmp_path: Path, tmux_sessions: list[Tmux]) -> None:
    neomutt = require("neomutt", "neomutt")
    config = block_after(printed, "~/.neomuttrc-mesyx")
    assert 'set folder="imaps://' in config
    # The test's own additions: no caches in HOME, quit without a question.
    config += 'set header_cache=""\nset message_cachedir=""\nset quit=yes\n'
    (tmp_path / "neomuttrc").write_text(config, encoding="utf-8")
    env = {"HOME": str(tmp_path), "TERM": "screen", "LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "")}
    tmux = Tmux(require("tmux", "tmux"), tmp_path / "tmux.sock", [neomutt, "-n", "-F", str(tmp_path / "neomuttrc")],
                env)
    tmux_sessions.append(tmux)
    tmux.wait_screen(SUBJECT, "+INBOX")
    tmux.keys("q")
    tmux.wait_exit()


def test_printed_curl_lists_the_mailboxes(printed: str) -> None:
    curl = require("curl", "curl")
    line = next(line for line in printed.splitlines()
                if line.strip().startswith("curl ") and "--user" in line and "INBOX" not in line)
    argv = shlex.split(line)
    argv[argv.index("--user") + 1] = f"{ADDRESS}:{PASSPHRASE}"
    proc = subprocess.run([curl, "--silent", "--show-error", "--max-time", "30", *argv[1:]], capture_output=True,
                          text=True, timeout=40)
    assert proc.returncode == 0, proc.stderr
    assert '"INBOX"' in proc.stdout and "\\Sent" in proc.stdout


def _printed_line(printed: str, start: str, needle: str) -> str:
    return next(line.strip() for line in printed.splitlines() if line.strip().startswith(start) and needle in line)


def test_printed_swaks_submits_as_the_account(printed: str, real_node: Node) -> None:
    """The submission line: authenticated, to the account itself, 250 (issue 4 point 4)."""
    require("swaks", "swaks")
    line = _printed_line(printed, "swaks ", "--auth")
    proc = subprocess.run(["bash", "-c", line + " --silent 2"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_printed_rest_login_gives_a_token(printed: str) -> None:
    """The REST line logs in with the passphrase file and answers a bearer token."""
    require("curl", "curl")
    line = _printed_line(printed, "curl ", "/v1/login")
    proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"token"' in proc.stdout, proc.stdout


def test_printed_rest_lines_work_with_the_token(printed: str, real_node: Node) -> None:
    """The lines after the login, with TOKEN and R set as the banner says: mailboxes, send."""
    require("curl", "curl")
    login = subprocess.run(["bash", "-c", _printed_line(printed, "curl ", "/v1/login")], capture_output=True,
                           text=True, timeout=60)
    token = json.loads(login.stdout)["token"]
    env = {**os.environ, "TOKEN": token, "R": f"http://127.0.0.1:{real_node.port_base + 80}/v1"}
    listed = subprocess.run(["bash", "-c", _printed_line(printed, "curl ", "/mailboxes -H")], capture_output=True,
                            text=True, timeout=60, env=env)
    assert '"role":"inbox"' in listed.stdout.replace(" ", ""), listed.stdout + listed.stderr
    sent = subprocess.run(["bash", "-c", _printed_line(printed, "curl ", "/send ")], capture_output=True, text=True,
                          timeout=60, env=env)
    assert '"local":1' in sent.stdout.replace(" ", ""), sent.stdout + sent.stderr


def test_printed_sieve_lines_test_put_and_list(printed: str, real_node: Node, tmp_path: Path) -> None:
    """The SIEVE lines: test a shipped script on a list message, put it active, list it over
    ManageSieve (sieve-connect reads the password from a descriptor instead of the prompt)."""
    message = tmp_path / "list.eml"
    message.write_bytes(b"From: a@example.net\r\nTo: dev@lists.example.org\r\nList-Id: Dev <dev.lists.example.org>\r\n"
                        b"Subject: hi\r\n\r\nbody\r\n")
    test_line = _printed_line(printed, ".venv/bin/mesyx ", "sieve test ")
    test_line = test_line.replace("MESSAGE.eml", shlex.quote(str(message)))
    tested = subprocess.run(["bash", "-c", test_line], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert tested.stdout == 'fileinto "Lists/dev"\n', tested.stdout + tested.stderr
    put_line = _printed_line(printed, ".venv/bin/mesyx ", "sieve put ")
    put = subprocess.run(["bash", "-c", put_line], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert put.returncode == 0, put.stdout + put.stderr
    require("sieve-connect", "sieve-connect")
    assert real_node.passphrase_file is not None
    line = _printed_line(printed, "sieve-connect ", "--list") + f" --passwordfd 3 3<{real_node.passphrase_file}"
    listed = subprocess.run(["bash", "-c", line], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout == "\"lists\" ACTIVE\n", listed.stdout
