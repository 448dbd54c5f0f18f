"""Submission without a daemon: message checks, the outbox payload, and who may AUTH.

The AUTH tests run :class:`SubmissionSMTP` on a loopback socket with smtplib as the client;
"not loopback" is simulated by patching :func:`is_loopback` (a test cannot bind another
address), everything else (EHLO's offer, aiosmtpd's 538, STARTTLS starting a new session)
is the real protocol.
"""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiosmtpd.smtp import Envelope
from nacl.public import PrivateKey

from mesyx.config import LimitsConfig
from mesyx.crypto.node import NodeKeys
from mesyx.crypto.tls import generate_certificate, server_context
from mesyx.errors import CryptoError, NotFound, Temporary, UsageError
from mesyx.modes.client.login import AuthenticationFailed, LoginService
from mesyx.modes.client.submission import smtp as submission_smtp
from mesyx.modes.client.submission.handler import SubmissionHandler
from mesyx.modes.client.submission.message import complete_message
from mesyx.modes.client.submission.smtp import SubmissionSMTP, is_loopback
from mesyx.modes.client.submission.submit import Relay, Sender, Submitter
from mesyx.pipeline.ratelimit import RateLimiter
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.outbox import OutboxItem, relay_of

NODE_ID = "a" * 32

# --------------------------------------------------------------------------- messages


def test_complete_message_adds_date_and_message_id_only_when_missing() -> None:
    bare = b"From: alice@mesyx.test\r\nTo: bob@ext.test\r\nSubject: hi\r\n\r\nhello\r\n"
    done = complete_message(bare, hostname="mx.mesyx.test", now=0.0)
    assert done.endswith(bare)
    added = done[: -len(bare)]
    assert added.startswith(b"Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nMessage-ID: <")
    assert added.endswith(b"@mx.mesyx.test>\r\n")
    full = b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x@y>\r\n" + bare
    assert complete_message(full, hostname="h", now=0.0) == full


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        (b"From: a@b.test\r\n\r\nnul \x00 here\r\n", "NUL"),
        (b"From: a@b.test\r\nthis is not a header\r\n\r\nbody\r\n", "not a field"),
        (b"From a@b.test\r\n\r\nbody\r\n", "not a field"),
        (b"Bad Name: x\r\nFrom: a@b.test\r\n\r\nbody\r\n", "not a field"),
        (b"To: b@c.test\r\n\r\nbody\r\n", "exactly one From"),
        (b"From: a@b.test\r\nFrom: c@d.test\r\n\r\nbody\r\n", "exactly one From"),
    ],
)
def test_malformed_messages_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(UsageError, match=reason):
        complete_message(raw, hostname="h", now=0.0)


# --------------------------------------------------------------------------- outbox payload


def test_outbox_item_round_trip_and_only_the_relay_opens_it() -> None:
    relay = PrivateKey.generate()
    item = OutboxItem(1_700_000_000.123, "alice@mesyx.test", ("bob@ext.test", "carol@ext.test"),
                      b"Subject: secret plans\r\n\r\nthe body\r\n")
    payload = item.seal(NODE_ID, bytes(relay.public_key))
    assert b"secret plans" not in payload and b"bob@ext.test" not in payload and b"alice" not in payload
    assert relay_of(payload) == NODE_ID
    assert OutboxItem.open(payload, relay) == item
    with pytest.raises(CryptoError):
        OutboxItem.open(payload, PrivateKey.generate())


# --------------------------------------------------------------------------- loopback


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("192.0.2.7", False), ("::ffff:192.0.2.7", False), ("2001:db8::1", False), ("unknown", False)],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


# --------------------------------------------------------------------------- AUTH and TLS


class _Logins:
    """Counts logins and refuses them all: enough to see whether AUTH reached the login."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def login(self, address: str, secret: str, client_ip: str) -> UnlockedAccount:
        self.calls.append((address, secret))
        raise AuthenticationFailed()


class _Server:
    def __init__(self, port: int, logins: _Logins) -> None:
        self.port = port
        self.logins = logins


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    generate_certificate(tmp_path / "cert.pem", tmp_path / "key.pem", common_name="localhost")
    return server_context(tmp_path / "cert.pem", tmp_path / "key.pem")


def _serve(tls: ssl.SSLContext, logins: _Logins) -> Iterator[_Server]:
    loop = asyncio.new_event_loop()
    handler = SubmissionHandler(logins, cast(Any, None), cast(Any, None), max_recipients=10, hostname="localhost")
    server = loop.run_until_complete(loop.create_server(
        lambda: SubmissionSMTP(handler, hostname="localhost", tls_context=tls),
        host="127.0.0.1", port=0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield _Server(port, logins)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch, tls_context: ssl.SSLContext) -> Iterator[_Server]:
    """A server that takes every peer for a non-loopback one."""
    monkeypatch.setattr(submission_smtp, "is_loopback", lambda host: False)
    yield from _serve(tls_context, _Logins())


@pytest.fixture
def local(tls_context: ssl.SSLContext) -> Iterator[_Server]:
    yield from _serve(tls_context, _Logins())


def _client_context() -> ssl.SSLContext:
    return ssl._create_unverified_context()  # noqa: S323 - a throwaway self-signed certificate


def test_no_auth_before_tls_from_a_remote_address(remote: _Server) -> None:
    with smtplib.SMTP("127.0.0.1", remote.port, timeout=10) as client:
        client.ehlo("client.test")
        assert not client.has_extn("auth")
        assert client.has_extn("starttls")
        code, text = client.docmd("AUTH", "PLAIN AGFsaWNlQG1lc3l4LnRlc3QAc2VjcmV0")
        assert (code, text[:6]) == (538, b"5.7.11")
        code, text = client.mail("alice@mesyx.test")
        assert (code, text[:5]) == (530, b"5.7.0")
    assert remote.logins.calls == []  # the credentials were never tried


def test_auth_after_starttls_from_a_remote_address(remote: _Server) -> None:
    with smtplib.SMTP("127.0.0.1", remote.port, timeout=10) as client:
        client.starttls(context=_client_context())
        client.ehlo("client.test")
        assert "PLAIN" in client.esmtp_features["auth"] and "LOGIN" in client.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice@mesyx.test", "wrong")
        assert refused.value.smtp_code == 535 and refused.value.smtp_error.startswith(b"5.7.8")
    assert remote.logins.calls[-1] == ("alice@mesyx.test", "wrong")


def test_auth_without_tls_on_loopback(local: _Server) -> None:
    with smtplib.SMTP("127.0.0.1", local.port, timeout=10) as client:
        client.ehlo("client.test")
        assert client.has_extn("auth")
        for mechanism in ("PLAIN", "LOGIN"):
            client.user, client.password = "bob@mesyx.test", "password"
            code, text = _auth(client, mechanism)
            assert (code, text[:5]) == (535, b"5.7.8")
    assert local.logins.calls == [("bob@mesyx.test", "password")] * 2


def _auth(client: smtplib.SMTP, mechanism: str) -> tuple[int, bytes]:
    try:
        client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code, exc.smtp_error
    raise AssertionError("the stub refuses every login")


def test_plain_for_another_identity_is_refused(local: _Server) -> None:
    with smtplib.SMTP("127.0.0.1", local.port, timeout=10) as client:
        client.ehlo("client.test")
        blob = base64.b64encode(b"carol@mesyx.test\x00bob@mesyx.test\x00secret").decode()
        code, text = client.docmd("AUTH", f"PLAIN {blob}")
        assert (code, text[:5]) == (535, b"5.7.8")
        code, text = client.docmd("AUTH", "PLAIN not-base64!")
        assert code == 501
    assert local.logins.calls == []


# --------------------------------------------------------------------------- relay


def test_relay_is_this_node_unless_configured_then_from_the_device_list() -> None:
    here, relay, client = NodeKeys.generate(), NodeKeys.generate(), NodeKeys.generate()
    store = cast(Any, SimpleNamespace(node=here))
    devices = DeviceList(b"acct", 1, (
        Device(relay.verify_key, bytes(relay.box_public), DeviceRole.RELAY),
        Device(client.verify_key, bytes(client.box_public), DeviceRole.CLIENT),
    ))
    account = cast(Any, SimpleNamespace(record=SimpleNamespace(device_list=devices)))

    def submitter(relay_node: str | None) -> Submitter:
        return Submitter(store, cast(Any, None), cast(Any, None), cast(Any, None), "h", relay_node)

    assert submitter(None).relay_for(account) == Relay(here.node_id, bytes(here.box_public))
    assert submitter(relay.node_id).relay_for(account) == Relay(relay.node_id, bytes(relay.box_public))
    for not_a_relay in (client.node_id, NodeKeys.generate().node_id):
        with pytest.raises(Temporary, match="not a relay"):
            submitter(not_a_relay).relay_for(account)


def test_failed_logins_share_the_login_service_budget(tls_context: ssl.SSLContext) -> None:
    """The LoginService's per-address budget (the same object IMAP uses in the daemon)
    answers 454 4.7.0 once spent, without trying the secret."""
    def unknown(address: str) -> None:
        raise NotFound("no such account")

    limits = LimitsConfig(failed_logins_per_address_per_minute=2, failed_logins_per_client_ip_per_minute=100)
    logins = LoginService(cast(Any, SimpleNamespace(find_account=unknown)), limits)
    for server in _serve(tls_context, cast(Any, logins)):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo("client.test")
            blob = base64.b64encode(b"\x00dave@mesyx.test\x00guess").decode()
            codes = [client.docmd("AUTH", f"PLAIN {blob}") for _ in range(3)]
        assert [(code, text[:5]) for code, text in codes] == [(535, b"5.7.8"), (535, b"5.7.8"), (454, b"4.7.0")]


# --------------------------------------------------------------------------- MAIL FROM


class _Router:
    async def resolve(self, address: str) -> bytes | None:
        return {"alice@mesyx.test": b"alice", "bob@mesyx.test": b"bob"}.get(address.lower())


def test_mail_from_must_be_the_accounts_and_is_rate_limited_per_account() -> None:
    submitter = Submitter(cast(Any, None), cast(Any, None), cast(Any, _Router()), cast(Any, None), "h", None,
                          account_limit=RateLimiter(2))
    handler = SubmissionHandler(_Logins(), submitter, cast(Any, None), max_recipients=10, hostname="h")
    alice = Sender(cast(Any, SimpleNamespace(record=SimpleNamespace(account_id=b"alice"))), cast(Any, None))
    session = SimpleNamespace(auth_data=alice, peer=("127.0.0.1", 1))

    def mail(address: str) -> str:
        envelope = Envelope()
        return asyncio.run(handler.handle_MAIL(cast(Any, None), cast(Any, session), envelope, address, []))

    assert mail("bob@mesyx.test").startswith("553 5.7.1")
    assert mail("mallory@ext.test").startswith("553 5.7.1")
    assert mail("not an address").startswith("553 5.1.7")
    assert mail("Alice@mesyx.test").startswith("250 2.1.0")
    assert mail("alice@mesyx.test").startswith("250 2.1.0")
    assert mail("alice@mesyx.test").startswith("450 4.7.1")  # the account's budget of 2 is spent
