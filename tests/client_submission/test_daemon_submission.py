"""SMTP submission against a real daemon with swaks, checked over IMAP (issue 4, acceptance).

Local mail goes through the accept pipeline (it arrives in the recipient's INBOX with the
trace headers accept adds); mail for other domains becomes an outbox item sealed to the
relay's box key (with no relay configured, this node's); the sender finds a copy in Sent
either way. Every refusal stores nothing: the store's rows are counted before and after.
"""

from __future__ import annotations

import uuid

import pytest

from mesyx.home import Home
from mesyx.store.outbox import OutboxItem, relay_of
from tests.client_submission.conftest import (
    LOCAL,
    MAX_SIZE,
    SENDER,
    auth_args,
    bodies,
    flags_of,
    outbox_payloads,
    swaks,
)
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow


def _marker() -> str:
    return f"marker-{uuid.uuid4().hex[:12]}"


def _stored(node: Node) -> dict[str, int]:
    counts = node.table_counts()
    return {table: counts[table] for table in ("envelopes", "wraps", "ops")}


def test_local_mail_arrives_in_inbox_and_a_copy_in_sent(node: Node) -> None:
    marker = _marker()
    result = swaks(node, "--tls", *auth_args(), "--from", SENDER, "--to", LOCAL,
                   "--header", f"Subject: {marker}", "--body", f"body of {marker}")
    assert result.returncode == 0, result.output
    assert any(line.startswith("250 2.0.0") for line in result.replies()), result.output
    inbox = [b for b in bodies(node, LOCAL, "INBOX") if marker.encode() in b]
    assert len(inbox) == 1
    assert inbox[0].startswith(b"Return-Path: <alice@mesyx.test>\r\nReceived: ")  # through the pipeline
    assert b" with ESMTPSA " in inbox[0].split(b"\r\n\r\n", 1)[0]  # TLS and AUTH (RFC 3848)
    sent = [b for b in bodies(node, SENDER, "Sent") if marker.encode() in b]
    assert len(sent) == 1 and inbox[0].endswith(sent[0])
    assert b"\\Seen" in flags_of(node, SENDER, "Sent")[-1]
    assert not [b for b in bodies(node, SENDER, "INBOX") if marker.encode() in b]


def test_external_mail_becomes_a_sealed_outbox_item_and_a_copy_in_sent(node: Node) -> None:
    marker = _marker()
    before = outbox_payloads(node)
    # Implicit TLS (RFC 8314) and AUTH LOGIN this time; one local and one external recipient.
    result = swaks(node, *auth_args(mechanism="LOGIN"), "--from", SENDER, "--to", f"carol@ext.test,{LOCAL}",
                   "--header", f"Subject: {marker}", "--body", f"secret body {marker}", implicit_tls=True)
    assert result.returncode == 0, result.output
    payloads = outbox_payloads(node)
    assert len(payloads) == len(before) + 1
    payload = payloads[-1]
    for clear in (marker.encode(), b"carol@ext.test", b"alice@mesyx.test", b"secret body"):
        assert clear not in payload
    keys = Home(node.home).node_keys()
    assert relay_of(payload) == keys.node_id  # no relay configured: sealed to this node
    item = OutboxItem.open(payload, keys.box_private)
    assert item.mail_from == SENDER and item.recipients == ("carol@ext.test",)
    assert marker.encode() in item.message
    sent = [b for b in bodies(node, SENDER, "Sent") if marker.encode() in b]
    assert sent == [item.message]
    assert [b for b in bodies(node, LOCAL, "INBOX") if marker.encode() in b]


def test_a_forged_envelope_sender_is_refused_and_nothing_stored(node: Node) -> None:
    before = _stored(node)
    for forged in ("mallory@ext.test", LOCAL):  # another domain, and another local account
        result = swaks(node, "--tls", *auth_args(), "--from", forged, "--to", LOCAL,
                       "--header", f"Subject: {_marker()}")
        assert result.returncode != 0
        assert any(line.startswith("553 5.7.1") for line in result.replies()), result.output
    assert _stored(node) == before


def test_bad_password_is_535(node: Node) -> None:
    result = swaks(node, "--tls", *auth_args(password="not the passphrase"), "--from", SENDER, "--to", LOCAL)
    assert result.returncode != 0
    assert any(line.startswith("535 5.7.8") for line in result.replies()), result.output


def test_no_auth_is_530_and_nothing_stored(node: Node) -> None:
    before = _stored(node)
    result = swaks(node, "--tls", "--from", SENDER, "--to", LOCAL)
    assert any(line.startswith("530 5.7.0") for line in result.replies()), result.output
    assert _stored(node) == before


def test_oversized_and_malformed_messages_are_refused_and_nothing_stored(node: Node) -> None:
    before = _stored(node)
    big = swaks(node, "--tls", *auth_args(), "--from", SENDER, "--to", "carol@ext.test",
                "--body", "x" * 70 + ("\n" + "y" * 70) * (MAX_SIZE // 70 + 10))
    assert any(line.startswith("552 5.3.4") for line in big.replies()), big.output
    malformed = swaks(node, "--tls", *auth_args(), "--from", SENDER, "--to", "carol@ext.test",
                      "--data", "this line is no header\nFrom: alice@mesyx.test\n\nbody\n")
    assert any(line.startswith("554 5.6.0") for line in malformed.replies()), malformed.output
    no_from = swaks(node, "--tls", *auth_args(), "--from", SENDER, "--to", LOCAL,
                    "--data", "To: bob@mesyx.test\nSubject: who?\n\nbody\n")
    assert any(line.startswith("554 5.6.0") for line in no_from.replies()), no_from.output
    assert _stored(node) == before


def test_an_app_password_logs_in(node: Node) -> None:
    added = node.cli("account", "app-password", "add", SENDER, "--label", "swaks",
                     "--passphrase-file", node.passphrase_file, check=True)
    password = added.out.strip().rpartition(": ")[2]  # "app password ID (LABEL): PASSWORD"
    marker = _marker()
    result = swaks(node, "--tls", *auth_args(password=password), "--from", SENDER, "--to", LOCAL,
                   "--header", f"Subject: {marker}")
    assert result.returncode == 0, result.output
    assert [b for b in bodies(node, LOCAL, "INBOX") if marker.encode() in b]
