"""Replication over HTTPS between real daemons (issue 6 points 3 and 4).

Mail accepted on an accept node reaches a client node's store, index and IMAP IDLE at
once; a converged pair confirms in one round trip under 1 KiB per account; a peer
sending a tampered operation or envelope has nothing applied and is backed off.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from mesyx.crypto.encoding import b32
from mesyx.crypto.envelope import Envelope
from mesyx.home import Home
from mesyx.proto.sync.frames import AccountFrame, EnvelopeFrame, Frame, OpFrame, encode
from mesyx.store.replica import Replica
from tests.exchange.peers import (
    ADDRESS,
    account_id,
    client_node,
    cut_request,
    node_id,
    pair,
    peer_add,
    peer_row,
    public_copy,
    request,
    start,
)
from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, make_message, scan_bytes, wait_for
from tests.helpers.imap_raw import RawImap

pytestmark = pytest.mark.slow

SYNC = "application/x-mesyx-sync"


def test_mail_accepted_on_a_reaches_idle_on_c(node_factory: NodeFactory) -> None:
    c = client_node(node_factory, "c")
    a = public_copy(c, node_factory, "a", ["accept", "exchange"])
    start(c, a)
    pair(c, a, a_role="accept")  # C signs A into the device list as accept
    wait_for(lambda: peer_row(a, c)["last_contact"] and peer_row(c, a)["last_contact"], what="first contact")
    idle = RawImap(c.config().ports.imap, timeout=10)
    exists = idle.login_select(ADDRESS, DEFAULT_PASSPHRASE)
    idle.sock.sendall(b"a3 IDLE\r\n")
    idle.until(b"+ idling\r\n")
    subject = "Quarterly figures 7f3a"
    assert a.send("bob@ext.test", ADDRESS, make_message(subject=subject, body="the secret plan\n")).ok
    accepted = time.monotonic()
    line = idle.until(b" EXISTS\r\n")
    assert line.endswith(f"* {exists + 1} EXISTS\r\n".encode()) and time.monotonic() - accepted < 10, line
    rows = c.cli_json("message", "list", "--passphrase-file", c.passphrase_file, "--json")
    assert [r["subject"] for r in rows] == [subject]
    # The accept node stores ciphertext only (DESIGN.md: what a seized node gives away).
    assert scan_bytes(a.home, [subject, "the secret plan", "bob@ext.test", "INBOX"]) == {}
    # Converged: heads is one round trip under 1 KiB for the account, request and answer
    # as they cross the socket (HTTP/1.1 headers included; TLS records excluded).
    account = account_id(c)
    wait_for(lambda: c.status()["store"]["operations"] == a.status()["store"]["operations"], what="convergence")
    first = request(a, "POST", "/sync/v1/heads", json.dumps({"vectors": {account: {}}}).encode(), as_node=c)
    theirs = first.json()["vectors"]
    again = request(a, "POST", "/sync/v1/heads", json.dumps({"vectors": theirs}).encode(), as_node=c)
    assert again.status == 200 and again.json()["vectors"] == theirs
    assert again.sent + again.received < 1024, (again.sent, again.received)
    status = c.status()["peers"][0]
    assert status["they_lack"] == 0 and status["we_lack"] == 0, status


def _frames(node: Node) -> list[Frame]:
    """Everything of the node's one account, as it would push it to an empty peer."""
    home = Home(node.home)
    store = home.open_store(home.config(), home.node_keys())
    try:
        record = store.accounts()[0]
        return list(Replica(store).missing(record.account_id, {}))
    finally:
        store.close()


def _push(target: Node, sender: Node, frames: list[Frame]) -> tuple[int, dict[str, object]]:
    answer = request(target, "POST", "/sync/v1/push", b"".join(encode(f) for f in frames), as_node=sender,
                     content_type=SYNC)
    return answer.status, answer.json()


def test_a_peer_sending_tampered_data_is_refused_and_backed_off(node_factory: NodeFactory) -> None:
    c = node_factory.create("c", modes=["accept", "client", "exchange"], account=ADDRESS)
    b = node_factory.create("b", modes=["exchange"])
    start(c, b)
    assert c.send("bob@ext.test", ADDRESS, make_message(subject="to be carried")).ok
    # B knows C without dialling it (no address: no task of B's own failing meanwhile),
    # from C's descriptor and certificate as the descriptor endpoint serves them; B takes
    # the account in from C's frames.
    saved = b.home.parent / "c-descriptor.json"
    saved.write_bytes(request(c, "GET", "/sync/v1/descriptor").body)
    b.cli("peer", "add", node_id(c), "--descriptor", saved, "--accounts", account_id(c), check=True)
    wait_for(lambda: "peers_trusted" in b.log_text(), what="b to trust c's certificate")
    c.stop()
    frames = _frames(c)
    before = b.table_counts()
    # An operation whose signature was altered (one byte).
    i = next(i for i, f in enumerate(frames) if isinstance(f, OpFrame))
    op = frames[i].op  # type: ignore[union-attr]
    bad = dataclasses.replace(op, signature=bytes([op.signature[0] ^ 1]) + op.signature[1:])
    status, problem = _push(b, c, [*frames[:i], OpFrame(bad), *frames[i + 1:]])
    assert status == 422 and problem["status"] == 422, problem
    assert b.table_counts() == before
    # Backed off: even valid data is refused until the backoff ends.
    status, problem = _push(b, c, frames)
    assert status == 429, problem
    assert b.table_counts() == before
    assert "invalid_data" in b.log_text() and "sent invalid data" in peer_row(b, c)["last_error"]
    # An envelope whose body was altered (its id no longer matches what the PUT names).
    wait_for(lambda: (peer_row(b, c)["refused_until"] or 0) < time.time(), timeout=15, what="end of the backoff")
    j = next(j for j, f in enumerate(frames) if isinstance(f, EnvelopeFrame))
    envelope = frames[j].envelope  # type: ignore[union-attr]
    flipped = Envelope(envelope.header, envelope.body[:-1] + bytes([envelope.body[-1] ^ 1]))
    status, problem = _push(b, c, [*frames[:j], EnvelopeFrame(flipped), *frames[j + 1:]])
    assert status == 422, problem
    assert b.table_counts() == before
    # Once the backoff is over: a push cut off half-way (the sender died) leaves nothing
    # of its incomplete batch and no error trace; then the genuine frames are all taken.
    wait_for(lambda: (peer_row(b, c)["refused_until"] or 0) < time.time(), timeout=15, what="end of the backoff")
    stream = b"".join(encode(f) for f in frames)
    cut_request(b, "/sync/v1/push", stream, len(stream) // 2, as_node=c)
    wait_for(lambda: "push_cut" in b.log_text(), what="b to notice the cut push")
    assert b.table_counts() == before and "Traceback" not in b.log_text() and " internal " not in b.log_text()
    status, answer = _push(b, c, frames)
    assert status == 200, answer
    vectors = answer["vectors"]
    assert isinstance(vectors, dict) and vectors[account_id(c)] == {node_id(c): len([f for f in frames
                                                                                       if isinstance(f, OpFrame)])}
    assert b.table_counts()["envelopes"] == 1


def test_kill_the_receiver_mid_sync_then_resume(node_factory: NodeFactory) -> None:
    small_batches = {"exchange": {"batch_bytes": 4096}}
    p = node_factory.create("p", modes=["accept", "client", "exchange"], account=ADDRESS, config=small_batches)
    q = node_factory.create("q", modes=["exchange"], config=small_batches)
    start(p, q)
    count = 120
    with p.smtp() as smtp:
        for n in range(count):
            body = f"message {n}\n" + ("x" * 76 + "\n") * 1700  # about 130 KiB each
            smtp.sendmail("bob@ext.test", [ADDRESS], make_message(subject=f"bulk {n}", body=body))
    expected = p.table_counts()
    assert expected["envelopes"] == count
    peer_add(q, p, accounts=account_id(p))
    peer_add(p, q, accounts=ADDRESS)
    partial = wait_for(lambda: 0 < (n := q.table_counts()["envelopes"]) < count and n, timeout=30, interval=0.01,
                       what="a partial transfer")
    q.kill()
    after_kill = q.table_counts()
    assert after_kill["envelopes"] < count, (partial, after_kill)
    start(q)
    wait_for(lambda: q.table_counts()["envelopes"] == count and q.table_counts()["ops"] == expected["ops"],
             timeout=60, what="the sync to complete after the restart")
    assert _envelope_ids(q) == _envelope_ids(p)
    assert q.table_counts()["ops"] == expected["ops"]


def _envelope_ids(node: Node) -> set[str]:
    import sqlite3

    con = sqlite3.connect(f"file:{node.home / 'data' / 'mesyx.sqlite3'}?mode=ro", uri=True, timeout=20)
    try:
        return {b32(bytes(r[0])) for r in con.execute("SELECT envelope_id FROM envelopes")}
    finally:
        con.close()


def test_a_peer_sees_only_the_accounts_shared_with_it(node_factory: NodeFactory) -> None:
    c = client_node(node_factory, "c")
    c.add_account("bob@mesyx.test")
    ids = {row["addresses"][0]: row["account_id"] for row in c.cli_json("account", "list", "--json")}
    alice, bob = ids[ADDRESS], ids["bob@mesyx.test"]
    b = node_factory.create("b", modes=["exchange"])
    start(c, b)
    peer_add(c, b, accounts=ADDRESS)
    peer_add(b, c, accounts=f"{alice},{bob}")  # B would take both; C shares only alice
    wait_for(lambda: b.table_counts()["ops"] == len_ops(c, alice) and b.table_counts()["ops"] > 0,
             what="alice's operations on b")
    assert b.table_counts()["accounts"] == 1
    heads = request(c, "POST", "/sync/v1/heads", json.dumps({"vectors": {alice: {}, bob: {}}}).encode(), as_node=b)
    assert set(heads.json()["vectors"]) == {alice}
    pull = request(c, "POST", "/sync/v1/pull", json.dumps({"account": bob, "vector": {}}).encode(), as_node=b)
    assert pull.status == 403, pull


def len_ops(node: Node, account: str) -> int:
    """Operations of one account in a node's store (read-only)."""
    import sqlite3

    from mesyx.crypto.encoding import unb32

    con = sqlite3.connect(f"file:{node.home / 'data' / 'mesyx.sqlite3'}?mode=ro", uri=True, timeout=20)
    try:
        return int(con.execute("SELECT count(*) FROM ops WHERE account_id = ?", (unb32(account, 16),)).fetchone()[0])
    finally:
        con.close()


class _Tampering(BaseHTTPRequestHandler):
    """Plays a paired node (with its certificate and key) that serves a tampered pull."""

    heads = b""
    stream = b""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/pull"):
            body, kind = self.stream, SYNC
        else:
            if self.path.endswith("/wait"):
                time.sleep(1)
            body, kind = self.heads, "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_a_peer_serving_tampered_data_on_pull_is_backed_off(node_factory: NodeFactory) -> None:
    c = node_factory.create("c", modes=["accept", "client", "exchange"], account=ADDRESS)
    b = node_factory.create("b", modes=["exchange"])
    start(c, b)
    assert c.send("bob@ext.test", ADDRESS, make_message(subject="to be carried")).ok
    peer_add(b, c, accounts=account_id(c))  # C does not add B: nothing flows until C is replaced
    c.stop()
    frames = _frames(c)
    i = next(i for i, f in enumerate(frames) if isinstance(f, OpFrame))
    op = frames[i].op  # type: ignore[union-attr]
    bad = dataclasses.replace(op, payload=op.payload + b"!")
    _Tampering.stream = b"".join(encode(f) for f in [*frames[:i], OpFrame(bad), *frames[i + 1:]])
    first = frames[0]
    assert isinstance(first, AccountFrame)
    _Tampering.heads = json.dumps({"vectors": {account_id(c): first.vector}}).encode()
    server = HTTPServer(("127.0.0.1", c.config().ports.exchange), _Tampering)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(c.home / "tls" / "cert.pem", c.home / "tls" / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        row = wait_for(lambda: (r := peer_row(b, c))["refused_until"] and r, timeout=20,
                       what="b refusing what the fake c served")
    finally:
        server.shutdown()
        server.server_close()
    assert "sent invalid data" in row["last_error"] and row["errors"] >= 1, row
    assert b.table_counts()["ops"] == 0 and b.table_counts()["envelopes"] == 0
