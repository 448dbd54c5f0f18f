"""``GET /v1/search`` with curl: header fields matched as IMAP SEARCH does (decoded,
case-insensitive, addresses as written back), every parameter must match, pages."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest

from mesyx.crypto.encoding import b32
from mesyx.modes.client.index import IndexWriter
from tests.client_rest.conftest import Running, curl, fill_mailbox, login
from tests.helpers.daemon import make_message

BASE = 1_700_000_000.0


@pytest.fixture(scope="module")
def box(writer: IndexWriter) -> tuple[str, list[bytes]]:
    messages = [
        make_message(subject="Quarterly report", mail_from="Alice Doe <alice@ext.test>", to="rita@mesyx.test"),
        make_message(subject="=?utf-8?q?R=C3=A9sum=C3=A9?= attached", mail_from="bob@ext.test",
                     to="Rita <rita@mesyx.test>", headers=[("Cc", "Carol <carol (work)@ext.test>")]),
        make_message(subject="lunch", mail_from="alice@ext.test", to="team@ext.test"),
    ]  # fmt: skip
    messages += [make_message(subject=f"bulk {i}", mail_from="news@ext.test", to="rita@mesyx.test") for i in range(5)]
    return fill_mailbox(writer, f"Tests/{uuid.uuid4().hex[:8]}",
                        [(raw, BASE + i) for i, raw in enumerate(messages)])  # fmt: skip


def _ids(rest: Running, token: str, **params: str) -> list[str]:
    reply = curl(f"{rest.url}/v1/search?{urlencode(params)}", token=token)
    assert reply.status == 200, reply.body
    return [m["id"] for m in reply.json()["messages"]]


def test_search_fields(rest: Running, box: tuple[str, list[bytes]]) -> None:
    token = login(rest.url).json()["token"]
    mailbox, eids = box
    ids = [b32(e) for e in eids]
    assert _ids(rest, token, mailbox=mailbox, q="ALICE") == [ids[2], ids[0]]
    assert _ids(rest, token, mailbox=mailbox, q="résumé") == [ids[1]]
    assert _ids(rest, token, mailbox=mailbox, q="carol@ext.test") == [ids[1]]  # the comment does not hide it
    assert _ids(rest, token, mailbox=mailbox, **{"from": "alice", "subject": "report"}) == [ids[0]]
    assert _ids(rest, token, mailbox=mailbox, to="team") == [ids[2]]
    assert _ids(rest, token, mailbox=mailbox, q="nothing like it") == []


def test_search_pages_and_problems(rest: Running, box: tuple[str, list[bytes]]) -> None:
    token = login(rest.url).json()["token"]
    mailbox, eids = box
    first = curl(f"{rest.url}/v1/search?{urlencode({'mailbox': mailbox, 'q': 'bulk', 'limit': 3})}", token=token)
    page = first.json()
    assert len(page["messages"]) == 3 and page["total"] == 8
    rest_of = _ids(rest, token, mailbox=mailbox, q="bulk", cursor=page["next_cursor"])
    assert [m["id"] for m in page["messages"]] + rest_of == [b32(e) for e in reversed(eids[3:])]
    assert curl(f"{rest.url}/v1/search?mailbox=nosuch&q=x", token=token).status == 404
    assert curl(f"{rest.url}/v1/search?q=x", token=token).status == 422
    assert curl(f"{rest.url}/v1/search?mailbox={mailbox}&q=", token=token).status == 422
    assert curl(f"{rest.url}/v1/search?mailbox={mailbox}&q=x").status == 401


def test_search_body_text(rest: Running, writer: IndexWriter) -> None:
    token = login(rest.url).json()["token"]
    messages = [make_message(subject="plain", body="the launch code is 0000\n"),
                make_message(subject="quoted", body="caf\u00e9 au lait\n"),
                make_message(subject="other", body="nothing here\n")]  # fmt: skip
    mailbox, eids = fill_mailbox(writer, f"Tests/{uuid.uuid4().hex[:8]}",
                                 [(raw, BASE + i) for i, raw in enumerate(messages)])  # fmt: skip
    assert _ids(rest, token, mailbox=mailbox, body="LAUNCH CODE") == [b32(eids[0])]
    assert _ids(rest, token, mailbox=mailbox, body="café") == [b32(eids[1])]
    assert _ids(rest, token, mailbox=mailbox, body="here", subject="plain") == []
    assert _ids(rest, token, mailbox=mailbox, body="plain") == []  # the subject is no body text
