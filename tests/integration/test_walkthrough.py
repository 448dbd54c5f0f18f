"""Issue 2's acceptance walk-through, verbatim, as CLI subprocesses and real SMTP clients.

    mesyx --home H init --account alice@mesyx.test --passphrase-file pw --port-base N
    mesyx --home H run &                    # SMTP on 127.0.0.1:N+25
    # smtplib and swaks: alice@ and alice+lists@ -> 250; nobody@ -> 550
    mesyx --home H message list --passphrase-file pw --json     # both mails, decrypted
    mesyx --home H account export alice@mesyx.test > alice.pub  # public parts only
    mesyx --home A init --modes accept --port-base M            # an accept-only node
    mesyx --home A account import alice.pub
    mesyx --home A run &
    # mail to alice@ -> 250; a byte scan of A finds neither body, subject nor sender;
    # mesyx --home A message list --passphrase-file pw fails with one clear line

Port bases are picked free at run time instead of 20000/21000, so the test never
collides with a demo or another run; everything else is typed as in the issue.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.daemon import (
    Node,
    NodeFactory,
    assert_one_line_error,
    is_listening,
    make_message,
    pick_port_base,
    run_cli,
    scan_bytes,
    smtp_transaction,
)

pytestmark = pytest.mark.slow

SWAKS = shutil.which("swaks") or ("/usr/bin/swaks" if Path("/usr/bin/swaks").exists() else None)
PASSPHRASE = "walk through the garden 7"


def swaks(port: int, to: str, *, subject: str, body: str, sender: str) -> subprocess.CompletedProcess[str]:
    assert SWAKS is not None
    return subprocess.run(
        [SWAKS, "--server", f"127.0.0.1:{port}", "--to", to, "--from", sender, "--helo", "swaks.test",
         "--header", f"Subject: {subject}", "--body", body, "--timeout", "20"],
        capture_output=True, text=True, timeout=60,
    )


def test_acceptance_walkthrough(tmp_path: Path, node_factory: NodeFactory) -> None:
    """Every step of the walk-through; swaks steps are left out (and the test reported as
    skipped at the end) only where swaks is not installed."""
    work = tmp_path
    (work / "pw").write_text(PASSPHRASE + "\n", encoding="utf-8")

    # mesyx --home H init --account alice@mesyx.test --passphrase-file pw --port-base N
    base_h = pick_port_base()
    init = run_cli("--home", "H", "init", "--account", "alice@mesyx.test", "--passphrase-file", "pw",
                   "--port-base", base_h, cwd=work)
    assert init.returncode == 0, init
    assert (work / "H" / "mesyx.toml").is_file()

    # `init` without --modes enables all four; status --json has node_id while stopped.
    stopped = run_cli("--home", "H", "status", "--json", cwd=work, check=True).json()
    assert sorted(stopped["modes"]) == ["accept", "client", "exchange", "reencrypt"]
    assert stopped["running"] is False
    assert isinstance(stopped["node_id"], str) and stopped["node_id"]
    assert stopped["ports"]["smtp"] == base_h + 25

    # mesyx --home H run &      (SMTP on port base + 25)
    node_h = Node(home=work / "H", port_base=base_h, log_dir=work, name="H")
    node_factory.nodes.append(node_h)  # stopped at teardown whatever happens
    node_h.start(cwd=work)
    port_h = base_h + 25
    assert is_listening(port_h)
    running = run_cli("--home", "H", "status", "--json", cwd=work, check=True).json()
    assert running["running"] is True
    assert running["node_id"] == stopped["node_id"]

    # smtplib: alice@mesyx.test -> 250
    msg1 = make_message(subject="Walkthrough one via smtplib", body="First body, sent with smtplib.\n",
                        mail_from="carol@ext.test", to="alice@mesyx.test")
    sent1 = smtp_transaction(port_h, "carol@ext.test", ["alice@mesyx.test"], msg1)
    assert sent1.rcpt_codes == [250] and sent1.ok, sent1

    # swaks: alice+lists@mesyx.test -> 250, nobody@mesyx.test -> 550
    expected_subjects = {"Walkthrough one via smtplib", "Walkthrough three to lists"}
    if SWAKS is not None:
        expected_subjects.add("Walkthrough two via swaks")
        _swaks_to_h(port_h)

    # smtplib as well: alice+lists@ -> 250, nobody@ -> 550
    msg3 = make_message(subject="Walkthrough three to lists", body="Third body.\n", to="alice+lists@mesyx.test")
    sent3 = smtp_transaction(port_h, "carol@ext.test", ["alice+lists@mesyx.test"], msg3)
    assert sent3.ok, sent3
    refused = smtp_transaction(port_h, "carol@ext.test", ["nobody@mesyx.test"], make_message())
    assert refused.rcpt_codes == [550] and refused.data is None, refused

    # mesyx --home H message list --passphrase-file pw --json   (all mails, decrypted)
    listed = run_cli("--home", "H", "message", "list", "--passphrase-file", "pw", "--json", cwd=work)
    assert listed.returncode == 0, listed
    rows = listed.json()
    by_subject = {row["subject"]: row for row in rows}
    assert set(by_subject) == expected_subjects
    assert by_subject["Walkthrough one via smtplib"]["rcpt_to"] == ["alice@mesyx.test"]
    assert by_subject["Walkthrough three to lists"]["rcpt_to"] == ["alice+lists@mesyx.test"]
    assert all(row["mailboxes"] == ["INBOX"] for row in rows)
    bodies = [("Walkthrough one via smtplib", b"First body, sent with smtplib."),
              ("Walkthrough three to lists", b"Third body.")]
    if SWAKS is not None:
        assert by_subject["Walkthrough two via swaks"]["rcpt_to"] == ["alice+lists@mesyx.test"]
        assert by_subject["Walkthrough two via swaks"]["mail_from"] == "dave@ext.test"
        bodies.append(("Walkthrough two via swaks", b"Second body, sent with swaks."))
    for subject, body in bodies:
        shown = run_cli("--home", "H", "message", "show", by_subject[subject]["id"], "--passphrase-file", "pw",
                        cwd=work, check=True)
        assert body in shown.stdout
        assert f"Subject: {subject}".encode() in shown.stdout

    # mesyx --home H account export alice@mesyx.test > alice.pub   (public parts only)
    exported = run_cli("--home", "H", "account", "export", "alice@mesyx.test", cwd=work, check=True)
    (work / "alice.pub").write_bytes(exported.stdout)
    export = json.loads(exported.stdout)
    assert export["addresses"] == ["alice@mesyx.test"]
    assert not {"passphrase_wrap", "signing_key_sealed", "private_sealed", "master_key"} & set(export)
    assert all(set(k) == {"announcement", "signature"} for k in export["keysets"])

    # mesyx --home A init --modes accept --port-base M
    base_a = pick_port_base()
    init_a = run_cli("--home", "A", "init", "--modes", "accept", "--port-base", base_a, cwd=work)
    assert init_a.returncode == 0, init_a
    status_a = run_cli("--home", "A", "status", "--json", cwd=work, check=True).json()
    assert status_a["modes"] == ["accept"] and status_a["node_id"]

    # mesyx --home A account import alice.pub
    imported = run_cli("--home", "A", "account", "import", "alice.pub", cwd=work)
    assert imported.returncode == 0, imported

    # mesyx --home A run &
    node_a = Node(home=work / "A", port_base=base_a, log_dir=work, name="A")
    node_factory.nodes.append(node_a)
    node_a.start(cwd=work)
    port_a = base_a + 25

    # mail to alice@mesyx.test -> 250, with smtplib and swaks
    secret_subject = "Quarterly zebra ledger 41d9"
    secret_body = "The vault code is tangerine-8842-submarine."
    secret_sender = "whistleblower.k7@source.test"
    sent_a = smtp_transaction(port_a, secret_sender, ["alice@mesyx.test"],
                              make_message(subject=secret_subject, body=secret_body + "\n",
                                           mail_from=secret_sender))
    assert sent_a.ok, sent_a
    needles = [secret_subject, secret_body, secret_sender]
    if SWAKS is not None:
        sw_subject, sw_body = "Swaks marmalade 9c2e", "Swaks carried plum-7731-otter."
        sw_sender = "swaks.x3@source.test"
        sw_a = swaks(port_a, "alice@mesyx.test", subject=sw_subject, body=sw_body, sender=sw_sender)
        assert sw_a.returncode == 0 and "<-  250 2.0.0" in sw_a.stdout, sw_a.stdout
        needles += [sw_subject, sw_body, sw_sender]
    assert node_a.counts()["envelopes"] == (2 if SWAKS is not None else 1)

    # A byte scan of A's home (every file, -wal/-shm included) finds no body, subject or
    # sender: while the daemon runs, and after it stopped (WAL checkpointed).
    assert list((work / "A" / "data").glob("*-wal")), "expected SQLite's WAL file while the daemon runs"
    assert scan_bytes(work / "A", needles) == {}

    # mesyx --home A message list --passphrase-file pw   fails with one clear line
    failed = run_cli("--home", "A", "message", "list", "--passphrase-file", "pw", cwd=work)
    assert_one_line_error(failed, "private key")
    assert failed.stdout == b""

    assert node_a.stop() == 0
    assert node_h.stop() == 0
    assert scan_bytes(work / "A", needles) == {}
    # The stopped node still answers status --json with its node id.
    after = run_cli("--home", "A", "status", "--json", cwd=work, check=True).json()
    assert after["running"] is False and after["node_id"] == status_a["node_id"]
    if SWAKS is None:
        pytest.skip("swaks is not installed (Debian package swaks: apt-get install swaks); "
                    "every smtplib step of the walk-through passed")


def _swaks_to_h(port: int) -> None:
    ok = swaks(port, "alice+lists@mesyx.test", subject="Walkthrough two via swaks",
               body="Second body, sent with swaks.", sender="dave@ext.test")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "<-  250 2.0.0" in ok.stdout, ok.stdout
    refused = swaks(port, "nobody@mesyx.test", subject="nobody", body="nobody", sender="dave@ext.test")
    assert refused.returncode != 0
    assert "<** 550 5.1.1" in refused.stdout, refused.stdout
