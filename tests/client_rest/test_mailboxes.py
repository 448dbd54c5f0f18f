"""``/v1/mailboxes`` with curl: list, create, rename, delete, and the problems of each; a
token holds its account on the index feed until it ends."""

from __future__ import annotations

import json

from tests.client_rest.conftest import Running, curl, login


def _token(rest: Running) -> str:
    token: str = login(rest.url).json()["token"]
    return token


def _boxes(rest: Running, token: str) -> dict[str, dict[str, object]]:
    reply = curl(f"{rest.url}/v1/mailboxes", token=token)
    assert reply.status == 200, reply.body
    return {box["path"]: box for box in reply.json()["mailboxes"]}


def test_list_shows_the_special_mailboxes_with_counts(rest: Running) -> None:
    boxes = _boxes(rest, _token(rest))
    inbox = boxes["INBOX"]
    assert inbox["role"] == "inbox" and inbox["parent_id"] is None
    assert {"total", "unread", "size", "modseq", "id", "name"} <= set(inbox)
    assert any(box["role"] == "sent" for box in boxes.values())


def test_create_rename_delete(rest: Running) -> None:
    token = _token(rest)
    url = f"{rest.url}/v1/mailboxes"
    created = curl(url, method="POST", data=json.dumps({"path": "Projects/Mesyx"}), token=token)
    assert created.status == 201, created.body
    box = created.json()
    assert (box["name"], box["path"], box["total"]) == ("Mesyx", "Projects/Mesyx", 0)
    boxes = _boxes(rest, token)
    assert box["parent_id"] == boxes["Projects"]["id"]
    assert curl(url, method="POST", data=json.dumps({"path": "Projects/Mesyx"}), token=token).status == 409

    renamed = curl(f"{url}/{box['id']}", method="PATCH", data=json.dumps({"path": "Archive/Mesyx"}), token=token)
    assert renamed.status == 200, renamed.body
    assert renamed.json()["id"] == box["id"] and renamed.json()["path"] == "Archive/Mesyx"
    assert curl(f"{url}/{box['id']}", token=token).json()["path"] == "Archive/Mesyx"

    projects = _boxes(rest, token)["Projects"]["id"]
    assert curl(f"{url}/{box['id']}", method="DELETE", token=token).status == 204
    assert curl(f"{url}/{projects}", method="DELETE", token=token).status == 204
    assert "Archive/Mesyx" not in _boxes(rest, token)
    assert curl(f"{url}/{box['id']}", token=token).status == 404


def test_problems(rest: Running) -> None:
    token = _token(rest)
    url = f"{rest.url}/v1/mailboxes"
    boxes = _boxes(rest, token)
    inbox = curl(f"{url}/{boxes['INBOX']['id']}", method="DELETE", token=token)
    assert inbox.status == 403 and inbox.headers["content-type"] == "application/problem+json"
    assert curl(f"{url}/nosuchmailbox", method="DELETE", token=token).status == 404
    assert curl(f"{url}/nosuchmailbox", method="PATCH", data='{"path": "x"}', token=token).status == 404
    assert curl(f"{url}/{'x' * 300}", token=token).status == 404
    for bad in ('{"path": "a*b"}', '{"path": "x", "role": "inbox"}', '{"path": ""}', '{"path": "//"}',
                '{"path": "a\\u0001"}'):
        assert curl(url, method="POST", data=bad, token=token).status == 422, bad
    assert curl(url, method="POST", data='{"path": "Parent/Child"}', token=token).status == 201
    parent = _boxes(rest, token)["Parent"]["id"]
    has_children = curl(f"{url}/{parent}", method="DELETE", token=token)
    assert has_children.status == 409 and "child" in has_children.json()["detail"]
    assert curl(url).status == 401


def test_a_token_holds_its_account_on_the_feed_until_logout(rest: Running) -> None:
    feed = rest.service.index.feed
    before = {account: entry.refs for account, entry in feed._accounts.items()}
    token = _token(rest)
    (account_id,) = {a for a, e in feed._accounts.items() if e.refs == before.get(a, 0) + 1}
    assert curl(f"{rest.url}/v1/logout", method="POST", token=token).status == 204
    after = feed._accounts.get(account_id)
    assert (after.refs if after is not None else 0) == before.get(account_id, 0)
