"""Messages over REST with curl and aiohttp's client: listing pages (cursor, offset, order),
the original bytes, keywords, move, delete, and 404 for unknown ids."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
import pytest

from mesyx.crypto.encoding import b32
from mesyx.modes.client.index import IndexWriter
from tests.client_rest.conftest import Running, curl, fill_mailbox, login
from tests.helpers.daemon import make_message

BASE = 1_700_000_000.0


@pytest.fixture(scope="module")
def box(writer: IndexWriter) -> tuple[str, list[bytes], list[bytes]]:
    """A mailbox of seven messages received a minute apart (the third one first, so
    received order is not UID order); its id, the envelope ids and the raw messages."""
    raws = [make_message(subject=f"note {i}", mail_from=f"Sender {i} <s{i}@ext.test>", body=f"body {i}\n")
            for i in range(7)]  # fmt: skip
    dates = [BASE + 60 * i for i in range(7)]
    dates[2] = BASE - 60
    mailbox_id, eids = fill_mailbox(writer, f"Tests/{uuid.uuid4().hex[:8]}", list(zip(raws, dates, strict=True)))
    return mailbox_id, eids, raws


@pytest.fixture(scope="module")
def token(rest: Running) -> str:
    value: str = login(rest.url).json()["token"]
    return value


def _page(rest: Running, token: str, mailbox_id: str, query: str = "") -> Any:
    reply = curl(f"{rest.url}/v1/mailboxes/{mailbox_id}/messages{query}", token=token)
    assert reply.status == 200, reply.body
    return reply.json()


def test_pages_by_received_date(rest: Running, token: str, box: tuple[str, list[bytes], list[bytes]]) -> None:
    mailbox_id, eids, _ = box
    newest_first = [b32(eids[i]) for i in (6, 5, 4, 3, 1, 0, 2)]
    first = _page(rest, token, mailbox_id, "?limit=3")
    assert first["total"] == 7 and [m["id"] for m in first["messages"]] == newest_first[:3]
    item = first["messages"][0]
    assert (item["subject"], item["from"], item["to"]) == ("note 6", "Sender 6 <s6@ext.test>", "alice@mesyx.test")
    assert item["date"] == "2026-11-23T10:00:00Z" and item["received_at"].startswith("2023-11-14T22:")
    assert item["keywords"] == [] and item["available"] is True and item["uid"] == 7
    seen = [m["id"] for m in first["messages"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = _page(rest, token, mailbox_id, f"?limit=3&cursor={cursor}")
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
    assert seen == newest_first
    oldest = _page(rest, token, mailbox_id, "?order=asc&limit=2&offset=1")
    assert [m["id"] for m in oldest["messages"]] == [b32(eids[0]), b32(eids[1])]


def test_bad_queries(rest: Running, token: str, box: tuple[str, list[bytes], list[bytes]]) -> None:
    mailbox_id = box[0]
    for query in ("?limit=0", "?limit=201", "?order=up", "?cursor=abc", "?offset=-1", "?other=1"):
        assert curl(f"{rest.url}/v1/mailboxes/{mailbox_id}/messages{query}", token=token).status == 422, query
    assert curl(f"{rest.url}/v1/mailboxes/nosuch/messages", token=token).status == 404


def test_raw_is_the_original(rest: Running, token: str, box: tuple[str, list[bytes], list[bytes]]) -> None:
    _, eids, raws = box
    reply = curl(f"{rest.url}/v1/messages/{b32(eids[4])}/raw", token=token)
    assert reply.status == 200 and reply.headers["content-type"] == "message/rfc822"
    assert reply.body == raws[4]
    for unknown in ("nosuch", b32(b"\x00" * 32), "x" * 500):
        assert curl(f"{rest.url}/v1/messages/{unknown}/raw", token=token).status == 404
    assert curl(f"{rest.url}/v1/messages/{b32(eids[4])}/raw").status == 401


def test_keywords_move_delete(rest: Running, token: str, writer: IndexWriter,
                              box: tuple[str, list[bytes], list[bytes]]) -> None:
    mailbox_id, eids, _ = box
    url = f"{rest.url}/v1/messages/{b32(eids[1])}"
    changed = curl(f"{url}/keywords", method="PATCH", data='{"set": ["$seen", "$flagged", "work"]}', token=token)
    assert changed.status == 200, changed.body
    assert sorted(changed.json()["keywords"]) == ["$flagged", "$seen", "work"]
    cleared = curl(f"{url}/keywords", method="PATCH", data='{"clear": ["$flagged"]}', token=token).json()
    assert sorted(cleared["keywords"]) == ["$seen", "work"]
    assert curl(f"{url}/keywords", method="PATCH", data='{"set": ["bad word"]}', token=token).status == 422

    target = writer.create_mailbox(f"Tests/{uuid.uuid4().hex[:8]}").mailbox_id
    moved = curl(f"{url}/move", method="POST", data=json.dumps({"to": target}), token=token)
    assert moved.status == 200, moved.body
    assert [p["mailbox_id"] for p in moved.json()["mailboxes"]] == [target]
    assert curl(f"{url}/move", method="POST", data=json.dumps({"to": "nosuch"}), token=token).status == 404
    assert curl(f"{url}/move", method="POST", data=json.dumps({"to": target, "from": mailbox_id}),
                token=token).status == 404  # fmt: skip
    assert b32(eids[1]) not in [m["id"] for m in _page(rest, token, mailbox_id, "?limit=200")["messages"]]

    assert curl(f"{url}?mailbox={mailbox_id}", method="DELETE", token=token).status == 404
    assert curl(url, method="DELETE", token=token).status == 204
    assert curl(f"{url}/raw", token=token).status == 404
    assert curl(url, method="DELETE", token=token).status == 404


def test_concurrent_listings_with_aiohttp(rest: Running, token: str, box: tuple[str, list[bytes], list[bytes]]
                                          ) -> None:  # fmt: skip
    mailbox_id, eids, raws = box

    async def main() -> list[int]:
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one(path: str) -> int:
                async with session.get(f"{rest.url}{path}") as reply:
                    await reply.read()
                    return reply.status

            paths = [f"/v1/mailboxes/{mailbox_id}/messages?limit=2", f"/v1/messages/{b32(eids[0])}/raw"] * 10
            return list(await asyncio.gather(*(one(p) for p in paths)))

    assert set(asyncio.run(main())) == {200}


MULTIPART = (
    b"From: =?utf-8?q?Ren=C3=A9e?= <renee@ext.test>\r\n"
    b"To: rita@mesyx.test\r\n"
    b"Subject: =?utf-8?q?r=C3=A9sum=C3=A9?=\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <multi@ext.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9 at noon\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>caf\xc3\xa9 at <b>noon</b></p>\r\n"
    b"--alt--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''rapport%20%C3%A9t%C3%A9.pdf\r\n"
    b"\r\n"
    b"JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n"
    b"--outer\r\n"
    b"Content-Type: text/html; name=page.html\r\n"
    b"Content-Disposition: attachment; filename=page.html\r\n"
    b"\r\n"
    b"<script>alert(1)</script>\r\n"
    b"--outer--\r\n"
)


def test_message_as_json_and_its_parts(rest: Running, token: str, writer: IndexWriter) -> None:
    mailbox_id, (eid,) = fill_mailbox(writer, f"Tests/{uuid.uuid4().hex[:8]}", [(MULTIPART, BASE)])
    url = f"{rest.url}/v1/messages/{b32(eid)}"
    reply = curl(url, token=token)
    assert reply.status == 200, reply.body
    message = reply.json()
    assert message["id"] == b32(eid) and message["mailboxes"] == [{"mailbox_id": mailbox_id, "uid": 1}]
    assert (message["subject"], message["from"], message["to"]) == ("résumé", "Renée <renee@ext.test>",
                                                                    "rita@mesyx.test")  # fmt: skip
    assert message["text"].strip() == "café at noon" and "<b>noon</b>" in message["html"]
    assert message["truncated"] is False and ["Subject", "résumé"] in [[h["name"].title(), h["value"]]
                                                                       for h in message["headers"]]  # fmt: skip
    pdf, page = message["attachments"]
    assert (pdf["part"], pdf["content_type"], pdf["filename"]) == ("2", "application/pdf", "rapport été.pdf")
    assert page["part"] == "3"

    download = curl(f"{url}/parts/2", token=token)
    assert download.status == 200 and download.body.startswith(b"%PDF-1.4")
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.pdf"
    html = curl(f"{url}/parts/3", token=token)
    assert html.headers["content-security-policy"] == "sandbox" and html.headers["x-content-type-options"] == "nosniff"
    assert html.headers["content-disposition"].startswith("attachment")
    for missing in ("9", "1.9", "0", "x", "1..2"):
        assert curl(f"{url}/parts/{missing}", token=token).status == 404, missing
    assert curl(f"{rest.url}/v1/messages/{b32(bytes(32))}", token=token).status == 404
