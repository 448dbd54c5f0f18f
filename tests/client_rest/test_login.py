"""REST login, bearer tokens and logout (issue 4 point 2), with curl and aiohttp's client."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import aiohttp

from mesyx.crypto.encoding import b32
from mesyx.modes.client.rest.tokens import TokenStore
from tests.client_rest.conftest import ADDRESS, PASSPHRASE, Accounts, Running, curl, login, running_service


def _problem(reply_json: dict[str, object], status: int) -> None:
    assert reply_json["status"] == status
    assert isinstance(reply_json["type"], str) and str(reply_json["type"]).startswith("/docs#problem-")
    assert isinstance(reply_json["title"], str) and isinstance(reply_json["detail"], str)


def test_passphrase_login_account_and_logout(rest: Running, accounts: Accounts) -> None:
    before = time.time()
    reply = login(rest.url)
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"token", "expires_at"}
    token = body["token"]
    assert len(token) >= 40
    expires = datetime.fromisoformat(body["expires_at"]).timestamp()
    assert before + rest.service.tokens.ttl - 5 <= expires <= time.time() + rest.service.tokens.ttl + 5

    me = curl(f"{rest.url}/v1/account", token=token)
    assert me.status == 200
    record = accounts.store.find_account(ADDRESS)
    assert me.json() == {
        "account_id": b32(record.account_id),
        "address": ADDRESS,
        "addresses": [ADDRESS],
        "expires_at": body["expires_at"],
    }
    assert curl(f"{rest.url}/v1/logout", method="POST", token=token).status == 204
    after = curl(f"{rest.url}/v1/account", token=token)
    assert after.status == 401
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    _problem(after.json(), 401)


def test_app_password_logs_in_and_tokens_are_independent(rest: Running, accounts: Accounts) -> None:
    first = login(rest.url, password=accounts.app_password).json()["token"]
    second = login(rest.url, address=ADDRESS.upper()).json()["token"]
    assert first != second
    assert curl(f"{rest.url}/v1/logout", method="POST", token=first).status == 204
    assert curl(f"{rest.url}/v1/account", token=second).status == 200
    assert curl(f"{rest.url}/v1/account", token=first).status == 401


def test_tokens_are_kept_by_hash_only(rest: Running) -> None:
    token = login(rest.url).json()["token"]
    table = rest.service.tokens._sessions  # noqa: SLF001 - the property under test
    assert all(token.encode() not in key for key in table)
    assert token not in repr(table)


def test_bad_login_is_401_and_the_same_for_every_cause(rest: Running) -> None:
    replies = [
        login(rest.url, password="wrong"),
        login(rest.url, address="nobody@mesyx.test"),
    ]
    for reply in replies:
        assert reply.status == 401
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.headers["www-authenticate"].startswith("Bearer")
        _problem(reply.json(), 401)
    assert replies[0].json() == replies[1].json()


def test_missing_or_malformed_bearer_is_401(rest: Running) -> None:
    for args in ([], ["-H", "Authorization: Basic cml0YTpwYXNz"], ["-H", "Authorization: Bearer"]):
        reply = curl(f"{rest.url}/v1/account", *args)
        assert reply.status == 401, args
        assert reply.headers["www-authenticate"] == 'Bearer realm="mesyx"'
        _problem(reply.json(), 401)
    assert curl(f"{rest.url}/v1/account", token="not-a-token").status == 401
    assert curl(f"{rest.url}/v1/logout", method="POST").status == 401


def test_failed_logins_are_rate_limited(accounts: Accounts) -> None:
    with running_service(accounts.store, per_address=3, per_ip=100) as rest:
        for _ in range(3):
            assert login(rest.url, password="guess").status == 401
        throttled = login(rest.url, password="guess")
        assert throttled.status == 429
        assert throttled.headers["retry-after"] == "60"
        _problem(throttled.json(), 429)
        # the right passphrase is refused too while the budget is spent: no oracle
        assert login(rest.url).status == 429


def test_token_expires(accounts: Accounts) -> None:
    now = [time.time()]
    tokens = TokenStore(ttl=60, clock=lambda: now[0])
    with running_service(accounts.store, tokens=tokens) as rest:
        token = login(rest.url).json()["token"]
        assert curl(f"{rest.url}/v1/account", token=token).status == 200
        now[0] += 61
        reply = curl(f"{rest.url}/v1/account", token=token)
        assert reply.status == 401
        assert 'error="invalid_token"' in reply.headers["www-authenticate"]
        assert len(tokens) == 0


def test_token_store_bounds_sessions_per_account(accounts: Accounts) -> None:
    from mesyx.store.mailcrypt import unlock

    record = accounts.store.find_account(ADDRESS)
    account = unlock(accounts.store, record, accounts.app_password)
    tokens = TokenStore(per_account=3)
    issued = [tokens.issue(account)[0] for _ in range(5)]
    assert len(tokens) == 3
    assert [tokens.find(t) is not None for t in issued] == [False, False, True, True, True]


def test_concurrent_clients_with_aiohttp(rest: Running, accounts: Accounts) -> None:
    async def one(session: aiohttp.ClientSession, secret: str) -> int:
        async with session.post(f"{rest.url}/v1/login", json={"address": ADDRESS, "password": secret}) as r:
            token = (await r.json())["token"]
        async with session.get(f"{rest.url}/v1/account", headers={"Authorization": f"Bearer {token}"}) as r:
            assert (await r.json())["address"] == ADDRESS
            return r.status

    async def run() -> list[int]:
        async with aiohttp.ClientSession() as session:
            secrets = [PASSPHRASE, accounts.app_password] * 4
            return await asyncio.gather(*(one(session, s) for s in secrets))

    assert asyncio.run(run()) == [200] * 8


def test_login_body_is_checked(rest: Running) -> None:
    missing = curl(f"{rest.url}/v1/login", method="POST", data=json.dumps({"address": ADDRESS}))
    assert missing.status == 422
    _problem(missing.json(), 422)
    assert missing.json()["errors"] == [{"loc": "body.password", "msg": "Field required"}]
    extra = curl(f"{rest.url}/v1/login", method="POST", data=json.dumps({"address": ADDRESS, "password": "x", "a": 1}))
    assert extra.status == 422
    wrong_type = curl(f"{rest.url}/v1/login", method="POST", data=json.dumps({"address": 5, "password": []}))
    assert wrong_type.status == 422
    assert {e["loc"] for e in wrong_type.json()["errors"]} == {"body.address", "body.password"}


def test_api_replies_are_not_cached_and_name_no_versions(rest: Running) -> None:
    reply = login(rest.url)
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["server"] == "mesyx"
    assert "cache-control" not in curl(f"{rest.url}/openapi.json").headers


def test_status_names_the_node_and_the_account(rest: Running, accounts: Accounts) -> None:
    token = login(rest.url).json()["token"]
    reply = curl(f"{rest.url}/v1/status", token=token)
    assert reply.status == 200, reply.body
    status = reply.json()
    node, account = status["node"], status["account"]
    assert node["node_id"] == accounts.store.node.node_id and node["ports"]["rest"] == int(rest.url.rsplit(":", 1)[1])
    assert node["modes"] == ["client"] and node["hostname"] == "mail.mesyx.test"
    assert account["address"] == "rita@mesyx.test" and account["mailboxes"] >= 6 and account["sessions"] >= 1
    assert account["keysets"] >= 2 and account["messages"] >= 0 and account["index_version"] >= 1
    assert curl(f"{rest.url}/v1/status").status == 401
