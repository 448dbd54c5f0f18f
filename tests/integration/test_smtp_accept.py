"""Accept mode over SMTP against a running daemon: every refusal, TLS, routing, exactness.

One all-modes node (alice from ``init``, bob from ``account add``) serves most tests; it
runs with a small ``smtp.max_message_size`` and ``smtp.max_recipients`` so the limits
are cheap to hit. The rate-limit tests each start their own daemon with tight
``[limits]``, so their buckets never disturb the others. Every refusal is checked to
store nothing: ``status --json`` store counts are equal before and after.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers.daemon import (
    SMTP_TIMEOUT,
    Node,
    NodeFactory,
    SmtpResult,
    assert_one_line_error,
    is_listening,
    make_message,
    unverified_tls_context,
    wait_for,
)

pytestmark = pytest.mark.slow

MAX_SIZE = 40_000
MAX_RCPTS = 5
ALICE, BOB = "alice@mesyx.test", "bob@mesyx.test"
SENDER = "sender@ext.test"


#: Each account's passphrase file, filled in by the ``node`` fixture.
PASSPHRASE_FILES: dict[str, Path] = {}


@pytest.fixture(scope="module")
def node(module_node_factory: NodeFactory) -> Iterator[Node]:
    node = module_node_factory.create(
        "main", account=ALICE,
        config={"smtp": {"max_message_size": MAX_SIZE, "max_recipients": MAX_RCPTS}},
    )
    assert node.passphrase_file is not None
    PASSPHRASE_FILES[ALICE] = node.passphrase_file
    node.start()
    # A second account, created with the CLI while the daemon runs.
    PASSPHRASE_FILES[BOB] = node.add_account(BOB, "bob's own passphrase")
    yield node
    assert node.stop() == 0, node.log_tail()


def messages(node: Node, address: str) -> list[dict[str, Any]]:
    """``message list --json`` of one account, unlocked with its own passphrase."""
    result = node.cli("message", "list", "--account", address, "--passphrase-file", PASSPHRASE_FILES[address],
                      "--json")
    assert result.returncode == 0, result
    rows: list[dict[str, Any]] = result.json()
    return rows


def show(node: Node, message_id: str, address: str) -> bytes:
    """``message show ID``: the stored message's bytes."""
    result = node.cli("message", "show", message_id, "--account", address,
                      "--passphrase-file", PASSPHRASE_FILES[address])
    assert result.returncode == 0, result
    return result.stdout


def find(rows: list[dict[str, Any]], subject: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["subject"] == subject]


class Unchanged:
    """Store counts before == after: nothing was stored for a refused message."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def __enter__(self) -> Unchanged:
        self.before = self.node.counts()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert self.node.counts() == self.before, "something was stored for a refused message"


def raw_session(port: int) -> tuple[socket.socket, Any]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=SMTP_TIMEOUT)
    return sock, sock.makefile("rb")


def read_reply(reader: Any) -> tuple[int, str]:
    """One (possibly multi-line) SMTP reply."""
    lines = []
    while True:
        line = reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), "\n".join(lines)


def command(sock: socket.socket, reader: Any, line: str) -> tuple[int, str]:
    sock.sendall(line.encode("utf-8") + b"\r\n")
    return read_reply(reader)


# --------------------------------------------------------------------------- refusals


def test_unknown_recipient_550(node: Node) -> None:
    with Unchanged(node):
        result = node.send(SENDER, ["nobody@mesyx.test"], make_message())
        assert result.rcpts[0][0] == 550 and result.rcpts[0][1].startswith("5.1.1"), result
        assert result.data is None
        # An unknown domain is refused the same way.
        assert node.send(SENDER, ["alice@elsewhere.test"], make_message()).rcpt_codes == [550]


def test_unknown_recipient_among_known_ones(node: Node) -> None:
    """Only the unknown recipient is refused; the message goes to the known one."""
    subject = "mixed recipients 5e1"
    result = node.send(SENDER, ["nobody@mesyx.test", ALICE], make_message(subject=subject))
    assert result.rcpt_codes == [550, 250] and result.ok, result
    rows = find(messages(node, ALICE), subject)
    assert len(rows) == 1 and rows[0]["rcpt_to"] == [ALICE]


def test_size_declared_in_mail_from_552(node: Node) -> None:
    with Unchanged(node):
        result = node.send(SENDER, [ALICE], make_message(), mail_options=[f"SIZE={MAX_SIZE + 1}"])
        assert result.mail[0] == 552, result
        assert not result.rcpts and result.data is None
        # Within the limit, SIZE= is fine.
    assert node.send(SENDER, [ALICE], make_message(), mail_options=["SIZE=1000"]).ok


def test_size_of_actual_data_552(node: Node) -> None:
    big = make_message(subject="too big", body=("x" * 70 + "\n") * (MAX_SIZE // 70 + 10))
    assert len(big) > MAX_SIZE
    with Unchanged(node):
        result = node.send(SENDER, [ALICE], big)
        assert result.data is not None and result.data[0] == 552, result
    # The announced limit is the configured one.
    assert f"SIZE {MAX_SIZE}" in node.send(SENDER, [], None).ehlo[1]


def test_session_survives_oversized_data(node: Node) -> None:
    """After a 552 the same session can still deliver a message that fits."""
    with node.smtp() as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        client.rcpt(ALICE)
        code, _ = client.data(make_message(body="y" * 999 + "\n") * (MAX_SIZE // 900))
        assert code == 552
        client.rset()
        assert client.mail(SENDER)[0] == 250
        assert client.rcpt(ALICE)[0] == 250
        assert client.data(make_message(subject="fits after 552"))[0] == 250


def test_too_many_recipients_452(node: Node) -> None:
    rcpts = [f"alice+r{i}@mesyx.test" for i in range(MAX_RCPTS + 2)]
    with Unchanged(node), node.smtp() as client:
        client.ehlo("client.test")
        assert client.mail(SENDER)[0] == 250
        codes = [client.rcpt(r) for r in rcpts]
        assert [c for c, _ in codes[:MAX_RCPTS]] == [250] * MAX_RCPTS
        assert [c for c, _ in codes[MAX_RCPTS:]] == [452, 452], codes
        assert codes[MAX_RCPTS][1].startswith(b"4.5.3")
        assert client.rset()[0] == 250


@pytest.mark.parametrize(
    ("setup", "line"),
    [
        ([], "MAIL FROM:<bad"),
        ([], "MAIL FROM:<no-at-sign>>"),
        ([], "RCPT TO:<alice@mesyx.test>"),  # RCPT before MAIL
        ([], "DATA"),  # DATA before MAIL
        (["MAIL FROM:<sender@ext.test>"], "DATA"),  # DATA before RCPT
        (["MAIL FROM:<sender@ext.test>"], "MAIL FROM:<sender@ext.test>"),  # nested MAIL
        (["MAIL FROM:<sender@ext.test>"], "RCPT TO:<alice@>"),
        (["MAIL FROM:<sender@ext.test>"], "RCPT alice@mesyx.test"),
        ([], "XYZZY plugh"),
        ([], "MAIL FROM:<sender@ext.test> FROBNICATE=1"),
    ],
    ids=["mail-unclosed", "mail-no-at", "rcpt-before-mail", "data-before-mail", "data-before-rcpt",
         "nested-mail", "rcpt-bad-address", "rcpt-no-colon", "garbage", "mail-unknown-param"],
)
def test_malformed_commands_5xx(node: Node, setup: list[str], line: str) -> None:
    with Unchanged(node):
        sock, reader = raw_session(node.smtp_port)
        try:
            assert read_reply(reader)[0] == 220
            assert command(sock, reader, "EHLO client.test")[0] == 250
            for step in setup:
                assert command(sock, reader, step)[0] == 250
            code, text = command(sock, reader, line)
            assert 500 <= code < 600, f"{line!r} got {text}"
            # The session is still usable afterwards.
            assert command(sock, reader, "NOOP")[0] == 250
            assert command(sock, reader, "QUIT")[0] == 221
        finally:
            sock.close()


def test_mail_before_ehlo_is_refused(node: Node) -> None:
    with Unchanged(node):
        sock, reader = raw_session(node.smtp_port)
        try:
            read_reply(reader)
            assert 500 <= command(sock, reader, "MAIL FROM:<sender@ext.test>")[0] < 600
        finally:
            sock.close()


# --------------------------------------------------------------------------- TLS


def test_starttls_with_the_node_certificate(node: Node) -> None:
    subject = "over starttls 77a"
    with node.smtp() as client:
        client.ehlo("client.test")
        assert client.has_extn("starttls")
        assert client.starttls(context=unverified_tls_context())[0] == 220
        der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        client.ehlo("client.test")
        assert client.mail(SENDER)[0] == 250
        assert client.rcpt(ALICE)[0] == 250
        assert client.data(make_message(subject=subject))[0] == 250
    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP256R1)
    # It is the node's own certificate from its home.
    on_disk = x509.load_pem_x509_certificate((node.home / "tls" / "cert.pem").read_bytes())
    assert hashlib.sha256(der).digest() == on_disk.fingerprint(hashes.SHA256())
    (row,) = find(messages(node, ALICE), subject)
    raw = show(node, row["id"], ALICE)
    assert b" with ESMTPS " in raw.split(b"\r\n\r\n", 1)[0]


# --------------------------------------------------------------------------- routing


def test_two_accounts_get_one_envelope_each(node: Node) -> None:
    subject = "to both accounts 3f0"
    before = node.counts()["envelopes"]
    result = node.send(SENDER, [ALICE, BOB, "bob+x@mesyx.test"], make_message(subject=subject, to=f"{ALICE}, {BOB}"))
    assert result.rcpt_codes == [250, 250, 250] and result.ok, result
    assert node.counts()["envelopes"] == before + 2  # once per account, not per recipient
    alice_rows = find(messages(node, ALICE), subject)
    bob_rows = find(messages(node, BOB), subject)
    assert len(alice_rows) == 1 and len(bob_rows) == 1
    assert alice_rows[0]["id"] != bob_rows[0]["id"]
    # Each envelope names only its own account's recipients.
    assert alice_rows[0]["rcpt_to"] == [ALICE]
    assert bob_rows[0]["rcpt_to"] == [BOB, "bob+x@mesyx.test"]
    # Each account decrypts only with its own passphrase.
    wrong = node.cli("message", "list", "--account", BOB, "--passphrase-file", PASSPHRASE_FILES[ALICE])
    assert_one_line_error(wrong, "passphrase")
    wrong = node.cli("message", "show", alice_rows[0]["id"], "--account", ALICE,
                     "--passphrase-file", PASSPHRASE_FILES[BOB])
    assert_one_line_error(wrong, "passphrase")
    # Bob cannot read alice's envelope by id: it is not in his account.
    other = node.cli("message", "show", alice_rows[0]["id"], "--account", BOB,
                     "--passphrase-file", PASSPHRASE_FILES[BOB])
    assert_one_line_error(other)


def _eventually_accepted(node: Node, rcpt: str, subject: str) -> SmtpResult:
    """Send until the recipient routes (the router caches for up to 5 s)."""

    def attempt() -> SmtpResult | None:
        result = node.send(SENDER, [rcpt], make_message(subject=subject, to=rcpt))
        if result.rcpt_codes == [550]:
            return None
        return result

    result = wait_for(attempt, timeout=15.0, interval=0.5, what=f"{rcpt} to route")
    assert result is not None
    return result


def test_alias_routes_while_running(node: Node) -> None:
    alias = "al@mesyx.test"
    assert node.send(SENDER, [alias]).rcpt_codes == [550]  # and now it is cached as unknown
    node.cli("account", "alias", "add", ALICE, alias, check=True)
    result = _eventually_accepted(node, alias, "via alias 1c4")
    assert result.ok, result
    (row,) = find(messages(node, ALICE), "via alias 1c4")
    assert row["rcpt_to"] == [alias]
    # +detail works on an alias too.
    assert node.send(SENDER, ["al+tag@mesyx.test"], make_message()).ok


def test_catch_all_routes_while_running(node: Node) -> None:
    anyone = "whoever.9@other.test"
    assert node.send(SENDER, [anyone]).rcpt_codes == [550]
    node.cli("account", "alias", "add", ALICE, "@other.test", check=True)
    result = _eventually_accepted(node, anyone, "via catch-all 8b2")
    assert result.ok, result
    (row,) = find(messages(node, ALICE), "via catch-all 8b2")
    assert row["rcpt_to"] == [anyone]
    # Catch-all of one domain only; bob keeps his address on the catch-all's neighbour.
    assert node.send(SENDER, ["x@third.test"]).rcpt_codes == [550]


def test_new_account_routes_while_running(node: Node) -> None:
    """bob was added by the CLI after the daemon started, and routes."""
    assert node.send(SENDER, ["bob+late@mesyx.test"], make_message()).ok


# --------------------------------------------------------------------------- exactness


def test_trace_headers_prepended_and_bytes_exact(node: Node) -> None:
    long_line = "long-line " + "é" * 20 + "λ" * 20 + "0123456789" * 80
    assert 850 < len(long_line.encode()) < 998
    body = (
        "Grüße aus Köln — ünïcödé 8-bit body, not encoded.\n"
        ".a line starting with a dot (dot-stuffed on the wire)\n"
        "..two dots\n"
        f"{long_line}\n"
        "  trailing spaces   \n"
        "\tleading tab\n"
        "\n"
        "last line\n"
    )
    subject = "Ümlaut subject in raw UTF-8 ✓ 4d7"
    original = make_message(subject=subject, body=body, mail_from="Jörg <jorg@ext.test>")
    result = node.send("jorg@ext.test", [ALICE], original, ehlo="mta.ext.test", mail_options=["BODY=8BITMIME"])
    assert result.ok, result
    (row,) = find(messages(node, ALICE), subject)
    stored = show(node, row["id"], ALICE)
    assert stored.endswith(original), "the original bytes must come back exactly"
    trace = stored[: len(stored) - len(original)]
    fields = re.split(rb"\r\n(?=\S)", trace.rstrip(b"\r\n"))
    assert [f.split(b":", 1)[0] for f in fields] == [b"Return-Path", b"Received"], trace
    assert fields[0] == b"Return-Path: <jorg@ext.test>"
    assert fields[1].startswith(b"Received: from mta.ext.test ([127.0.0.1])")
    assert b" with ESMTP " in fields[1]
    assert trace.endswith(b"\r\n")
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(stored)
    assert parsed["Return-Path"] == "<jorg@ext.test>"
    assert parsed["Subject"] == subject


def test_null_sender_bounce_is_accepted(node: Node) -> None:
    subject = "bounce with null sender 2aa"
    result = node.send("", [ALICE], make_message(subject=subject, mail_from="MAILER-DAEMON@ext.test"))
    assert result.ok, result
    (row,) = find(messages(node, ALICE), subject)
    assert show(node, row["id"], ALICE).startswith(b"Return-Path: <>\r\n")


# --------------------------------------------------------------------------- rate limits


def _limited_node(factory: NodeFactory, name: str, **limits: int) -> Node:
    node = factory.create(name, account=ALICE, config={"limits": limits})
    node.start()
    return node


def test_sender_over_rate_limit_450(node_factory: NodeFactory) -> None:
    limit = 3
    node = _limited_node(node_factory, "sender-limit", messages_per_sender_per_minute=limit)
    with node.smtp() as client:
        client.ehlo("client.test")
        for i in range(limit):
            assert client.mail("flood@ext.test")[0] == 250, i
            assert client.rcpt(ALICE)[0] == 250
            assert client.data(make_message(subject=f"flood {i}"))[0] == 250
        before = node.counts()
        # The bucket refills at limit/minute: allow a slow machine a refilled token or two.
        replies = []
        for _ in range(3):
            code, text = client.mail("FLOOD@ext.test")  # the limit is per address, any case
            replies.append((code, text))
            if code == 450:
                break
            client.rset()
        assert replies[-1][0] == 450 and replies[-1][1].startswith(b"4.7.1"), replies
        client.rset()
        # Another sender from the same client is not limited.
        assert client.mail("calm@ext.test")[0] == 250
        assert client.rcpt(ALICE)[0] == 250
        assert client.data(make_message(subject="calm"))[0] == 250
    assert node.counts()["envelopes"] == before["envelopes"] + 1
    assert node.stop() == 0


def test_client_ip_over_message_rate_limit_450(node_factory: NodeFactory) -> None:
    limit = 3
    node = _limited_node(node_factory, "ip-limit", messages_per_client_ip_per_minute=limit)
    for i in range(limit):
        assert node.send(f"s{i}@ext.test", [ALICE], make_message()).ok
    before = node.counts()
    # The bucket refills at limit/minute: allow a slow machine a refilled token or two.
    results = []
    for i in range(3):
        results.append(node.send(f"other{i}@ext.test", [ALICE], make_message()))
        if results[-1].mail[0] == 450:
            break
    assert results[-1].mail[0] == 450 and results[-1].mail[1].startswith("4.7.1"), results
    delivered = sum(r.ok for r in results)
    assert node.counts()["envelopes"] == before["envelopes"] + delivered
    assert node.stop() == 0


def test_client_ip_over_connection_limit_421(node_factory: NodeFactory) -> None:
    limit = 3
    node = _limited_node(node_factory, "conn-limit", connections_per_client_ip_per_minute=limit)
    before = node.counts()
    banners: list[bytes] = []
    for _ in range(limit + 3):
        with socket.create_connection(("127.0.0.1", node.smtp_port), timeout=SMTP_TIMEOUT) as sock:
            reader = sock.makefile("rb")
            banner = reader.readline()
            banners.append(banner)
            if banner.startswith(b"421"):
                # The server closes the connection after 421.
                assert reader.read() == b""
                break
            sock.sendall(b"QUIT\r\n")
    assert all(b.startswith(b"220") for b in banners[:limit]), banners
    assert banners[-1].startswith(b"421 4.7.0"), banners
    assert node.counts() == before
    assert node.stop() == 0


# --------------------------------------------------------------------------- key material


@pytest.mark.parametrize("modes", [["accept"], ["accept", "exchange"], ["exchange"]])
def test_refuses_to_start_with_private_keys(node_factory: NodeFactory, modes: list[str]) -> None:
    node = node_factory.create("holder-" + "-".join(modes), account=ALICE)
    node.configure({"node": {"modes": modes}})
    node.start(wait=False)
    code = node.wait_exit()
    assert code != 0
    lines = [line for line in node.log_text().splitlines() if line.strip()]
    assert len(lines) == 1, node.log_text()
    assert "private key" in lines[0] and "Traceback" not in lines[0]
    assert not is_listening(node.smtp_port)
    # Back to a client-capable mode list, the same home starts fine.
    node.configure({"node": {"modes": ["accept", "client"]}})
    node.start()
    assert node.stop() == 0
