"""The REST listener of a real daemon (``mesyx run``), driven with curl and aiohttp: autoconfig
names the daemon's configured ports, login / account / logout work, the document is served,
and mail delivered over SMTP and flags set over IMAP arrive on the event stream."""

from __future__ import annotations

import asyncio
import imaplib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate

from tests.client_rest.conftest import curl, login
from tests.client_rest.test_autoconfig import _check
from tests.client_rest.test_events import next_event
from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, make_message, wait_for

pytestmark = pytest.mark.slow

ADDRESS = "tess@mesyx.test"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("rest-daemon")
    factory = NodeFactory(root)
    node = factory.create("n", account=ADDRESS, modes=["accept", "client"],
                          config={"node": {"hostname": "mail.mesyx.test"}})  # fmt: skip
    node.start()
    port = node.config().ports.rest
    wait_for(lambda: is_listening(port), timeout=20, what=f"REST port {port}")
    try:
        yield node
    finally:
        factory.close()


def _url(node: Node) -> str:
    return f"http://127.0.0.1:{node.config().ports.rest}"


def test_autoconfig_names_the_daemon_ports(node: Node) -> None:
    ports: Any = node.config().ports
    reply = curl(f"{_url(node)}/mail/config-v1.1.xml?emailaddress=tess%40mesyx.test")
    assert reply.status == 200
    _check(reply.body, domain="mesyx.test", imaps=ports.imaps, imap=ports.imap, smtps=ports.smtps,
           submission=ports.submission)  # fmt: skip


def test_login_account_logout(node: Node) -> None:
    url = _url(node)
    assert login(url, ADDRESS, "wrong").status == 401
    token = login(url, ADDRESS, DEFAULT_PASSPHRASE).json()["token"]
    assert curl(f"{url}/v1/account", token=token).json()["address"] == ADDRESS
    assert curl(f"{url}/v1/logout", method="POST", token=token).status == 204
    assert curl(f"{url}/v1/account", token=token).status == 401


def test_document_and_docs(node: Node) -> None:
    validate(curl(f"{_url(node)}/openapi.json").json())
    assert curl(f"{_url(node)}/docs").status == 200


def test_delivery_and_an_imap_flag_change_arrive_on_the_event_stream(node: Node) -> None:
    """A message delivered over SMTP and a flag set over IMAP (imaplib) reach a REST client
    as server-sent events, each with the message's id."""
    url = _url(node)
    token = login(url, ADDRESS, DEFAULT_PASSPHRASE).json()["token"]
    subject = f"pushed {uuid.uuid4().hex[:8]}"

    def flag_over_imap(uid: int) -> None:
        client = imaplib.IMAP4("127.0.0.1", node.config().ports.imap, timeout=30)
        try:
            client.login(ADDRESS, DEFAULT_PASSPHRASE)
            assert client.select("INBOX")[0] == "OK"
            assert client.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")[0] == "OK"
        finally:
            client.logout()

    async def main() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{url}/v1/events") as stream:
                first = await next_event(stream)
                inbox = next(m["id"] for m in first.data["mailboxes"] if m["role"] == "inbox")
                sent = await asyncio.to_thread(node.send, "bob@ext.test", ADDRESS, make_message(subject=subject))
                assert sent.ok
                event = await next_event(stream, timeout=30)
                assert event.event == "changes" and event.data["mailbox_id"] == inbox and event.id
                (added,) = event.data["added"]
                async with session.get(f"{url}/v1/messages/{added['id']}") as reply:
                    assert (await reply.json())["subject"] == subject

                await asyncio.to_thread(flag_over_imap, added["uid"])
                event = await next_event(stream, timeout=30)
                assert event.event == "changes" and event.data["changed"] == [
                    {"id": added["id"], "uid": added["uid"], "keywords": ["$flagged"]}]

    asyncio.run(main())


def test_rest_writes_show_in_imap(node: Node) -> None:
    """A mailbox made and a keyword set over REST are what IMAP LIST and FETCH show at once."""
    url = _url(node)
    token = login(url, ADDRESS, DEFAULT_PASSPHRASE).json()["token"]
    subject = f"shared-{uuid.uuid4().hex[:8]}"
    assert node.send("bob@ext.test", ADDRESS, make_message(subject=subject)).ok
    name = f"Rest{uuid.uuid4().hex[:6]}"
    assert curl(f"{url}/v1/mailboxes", method="POST", data=json.dumps({"path": name}), token=token).status == 201
    inbox = next(b for b in curl(f"{url}/v1/mailboxes", token=token).json()["mailboxes"] if b["role"] == "inbox")
    listing = curl(f"{url}/v1/search?mailbox={inbox['id']}&subject={subject}", token=token).json()["messages"]
    (message,) = listing
    reply = curl(f"{url}/v1/messages/{message['id']}/keywords", method="PATCH", data='{"set": ["$seen", "$flagged"]}',
                 token=token)  # fmt: skip
    assert reply.status == 200
    client = imaplib.IMAP4("127.0.0.1", node.config().ports.imap, timeout=30)
    try:
        client.login(ADDRESS, DEFAULT_PASSPHRASE)
        assert any(name.encode() in line for line in client.list()[1] if isinstance(line, bytes))
        assert client.select("INBOX")[0] == "OK"
        typ, data = client.uid("FETCH", str(message["uid"]), "(FLAGS)")
        assert typ == "OK" and b"\\Seen" in data[0] and b"\\Flagged" in data[0]  # type: ignore[operator]
    finally:
        client.logout()
