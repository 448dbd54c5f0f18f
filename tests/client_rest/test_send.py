"""``POST /v1/send`` with curl: the same path as SMTP submission (issue 4: "send (same path
as submission)"): a local recipient's INBOX, an outbox item for anyone else, a copy in Sent,
and the submission's refusals as problem details."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from mesyx.store import schema
from mesyx.store.operations import OpKind
from tests.client_rest.conftest import ADDRESS, Accounts, Running, curl, login


@pytest.fixture(scope="module")
def token(rest: Running) -> str:
    value: str = login(rest.url).json()["token"]
    return value


def _send(rest: Running, token: str, **fields: Any) -> Any:
    return curl(f"{rest.url}/v1/send", method="POST", data=json.dumps(fields), token=token)


def _subjects(rest: Running, token: str, role: str) -> list[str]:
    boxes = curl(f"{rest.url}/v1/mailboxes", token=token).json()["mailboxes"]
    box = next(b for b in boxes if b["role"] == role)
    page = curl(f"{rest.url}/v1/mailboxes/{box['id']}/messages?limit=200", token=token).json()
    return [m["subject"] for m in page["messages"]]


def _outbox_items(accounts: Accounts) -> int:
    with accounts.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.ops)
                                .where(schema.ops.c.kind == int(OpKind.OUTBOX))).scalar_one())


def test_send_to_the_account_itself_lands_in_inbox_and_sent(rest: Running, token: str) -> None:
    subject = f"to myself {uuid.uuid4().hex[:8]}"
    reply = _send(rest, token, to=[ADDRESS], subject=subject, text="hello me\n")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["local"] == 1 and body["external"] == 0 and body["message_id"].startswith("<")
    assert subject in _subjects(rest, token, "inbox")
    assert subject in _subjects(rest, token, "sent")


def test_send_to_someone_else_makes_an_outbox_item_and_a_sent_copy(rest: Running, token: str,
                                                                    accounts: Accounts) -> None:
    before = _outbox_items(accounts)
    subject = f"to the world {uuid.uuid4().hex[:8]}"
    reply = _send(rest, token, to=["bob@example.org"], bcc=["carol@example.org"], subject=subject, text="hi\n")
    assert reply.status == 200, reply.body
    assert reply.json()["external"] == 2
    assert _outbox_items(accounts) == before + 1
    assert subject in _subjects(rest, token, "sent")


def test_send_refuses_as_submission_does(rest: Running, token: str) -> None:
    forged = _send(rest, token, to=["bob@example.org"], text="x", **{"from": "bob@mesyx.test"})
    assert forged.status == 403 and forged.headers["content-type"].startswith("application/problem+json")
    bad = _send(rest, token, to=["not an address"], text="x")
    assert bad.status == 422, bad.body
    assert _send(rest, token, to=[], text="x").status == 422
    assert _send(rest, token, to=["bob@example.org"], subject="a\r\nBcc: eve@example.org", text="x").status == 422
    assert curl(f"{rest.url}/v1/send", method="POST", data="{}").status == 401
