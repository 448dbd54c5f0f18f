"""Issue 4's acceptance in one walk with the real curl: log in, list, read, flag, move,
send, search, delete, log out (each step's answer checked, and the token dead after)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from tests.client_rest.conftest import ADDRESS, PASSPHRASE, Running, curl


def test_curl_walks_the_api_end_to_end(rest: Running) -> None:
    reply = curl(f"{rest.url}/v1/login", method="POST", data=json.dumps({"address": ADDRESS, "password": PASSPHRASE}))
    assert reply.status == 200, reply.body
    token = reply.json()["token"]

    def call(path: str, method: str = "GET", body: object = None) -> tuple[int, object]:
        answer = curl(f"{rest.url}{path}", method=method, token=token,
                      data=None if body is None else json.dumps(body))
        return answer.status, (answer.json() if answer.body and answer.body[:1] in b"{[" else answer.body)

    marker = f"walk {uuid.uuid4().hex[:8]}"
    status, sent = call("/v1/send", "POST", {"to": [ADDRESS], "subject": marker, "text": "end to end\n"})
    assert status == 200 and isinstance(sent, dict) and sent["local"] == 1, sent

    status, listed = call("/v1/mailboxes")
    assert status == 200 and isinstance(listed, dict)
    boxes = {b["role"]: b["id"] for b in listed["mailboxes"] if b["role"]}
    status, page = call(f"/v1/mailboxes/{boxes['inbox']}/messages?limit=200")
    assert status == 200 and isinstance(page, dict)
    message = next(m for m in page["messages"] if m["subject"] == marker)

    status, read = call(f"/v1/messages/{message['id']}")
    assert status == 200 and isinstance(read, dict) and read["text"].strip() == "end to end"

    status, flagged = call(f"/v1/messages/{message['id']}/keywords", "PATCH", {"set": ["$flagged"]})
    assert status == 200 and isinstance(flagged, dict) and "$flagged" in flagged["keywords"], flagged

    status, moved = call(f"/v1/messages/{message['id']}/move", "POST", {"from": boxes["inbox"], "to": boxes["archive"]})
    assert status == 200 and isinstance(moved, dict)
    assert [p["mailbox_id"] for p in moved["mailboxes"]] == [boxes["archive"]], moved

    query = urlencode({"mailbox": boxes["archive"], "q": marker})
    status, found = call(f"/v1/search?{query}")
    assert status == 200 and isinstance(found, dict)
    assert [m["id"] for m in found["messages"]] == [message["id"]]

    status, _ = call(f"/v1/messages/{message['id']}", "DELETE")
    assert status in (200, 204)
    assert call(f"/v1/messages/{message['id']}")[0] == 404

    assert call("/v1/logout", "POST", {})[0] in (200, 204)
    assert call("/v1/mailboxes")[0] == 401
