"""Fixtures: a RestService on a free loopback port, in a loop on a thread, with a real account.

The service starts exactly as the daemon starts it (``start(stack)``), so curl and aiohttp's
client talk to the real listener. Tests that exhaust a rate limit or need a clock of their
own start a service of their own (:func:`running_service`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mesyx.accounts import add_app_password, create_account
from mesyx.config import Config, LimitsConfig, parse_config
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.modes.client.index import IndexFeed, IndexReader, IndexSyncer, IndexWriter, NewMessage
from mesyx.modes.client.login import LoginService
from mesyx.modes.client.rest import RestService
from mesyx.modes.client.rest.tokens import TokenStore
from mesyx.modes.client.submission.submit import Submitter
from mesyx.pipeline.deliver import Router
from mesyx.pipeline.filtering import KeepFilter
from mesyx.store.events import Broadcaster
from mesyx.store.mailcrypt import unlock
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store
from tests.helpers.daemon import pick_port_base

ADDRESS = "rita@mesyx.test"
PASSPHRASE = "rest horse battery staple"
HOSTNAME = "mail.mesyx.test"


@dataclass
class Accounts:
    store: Store
    app_password: str
    record: AccountRecord


def make_writer(accounts: Accounts) -> IndexWriter:
    """Client writes to the account's index from the test (as another IMAP session would)."""
    return IndexWriter(IndexSyncer(accounts.store, unlock(accounts.store, accounts.record, PASSPHRASE)))


@pytest.fixture(scope="package")
def writer(accounts: Accounts) -> IndexWriter:
    return make_writer(accounts)


def fill_mailbox(writer: IndexWriter, path: str, messages: list[tuple[bytes, float]]) -> tuple[str, list[bytes]]:
    """A new mailbox ``path`` holding ``messages`` (raw, received at); its id and the envelope ids."""
    mailbox_id = writer.create_mailbox(path).mailbox_id
    assert mailbox_id is not None
    result = writer.append_many([NewMessage(raw, (), at) for raw, at in messages], mailbox_id)
    return mailbox_id, list(result.envelope_ids)


@pytest.fixture(scope="package")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Accounts:
    return make_accounts(tmp_path_factory.mktemp("rest"))


def make_accounts(root: Path) -> Accounts:
    """A node's store with the test account (and an app password) in ``root``."""
    store = Store(f"sqlite:///{root / 'db.sqlite3'}", root / "blobs", NodeKeys.generate())
    store.create_schema()
    record = create_account(store, ADDRESS, PASSPHRASE, load_policy("weekly"), "interactive")
    app = add_app_password(store, unlock(store, record, PASSPHRASE), "script")[1]
    return Accounts(store, app, record)


def make_config(base: int, listen: str = "127.0.0.1") -> Config:
    text = f'[node]\nmodes = ["client"]\nhostname = "{HOSTNAME}"\nlisten = "{listen}"\n[ports]\nbase = {base}\n'
    return parse_config(text, home=Path("/nonexistent"), path=Path("mesyx.toml"))


@dataclass
class Running:
    """A started service: its URL, the objects behind it, and its loop."""

    url: str
    service: RestService
    loop: asyncio.AbstractEventLoop


@contextmanager
def running_service(
    store: Store,
    *,
    per_address: int = 10,
    per_ip: int = 30,
    tokens: TokenStore | None = None,
    listen: str = "127.0.0.1",
    tls: Any = None,
) -> Iterator[Running]:
    """Start a RestService on a thread's loop; stop it on exit."""
    base = pick_port_base()
    config = make_config(base, listen)
    limits = LimitsConfig(
        failed_logins_per_address_per_minute=per_address, failed_logins_per_client_ip_per_minute=per_ip
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Event | None = None
    failure: list[BaseException] = []
    holder: dict[str, RestService] = {}

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        login = LoginService(store, limits, concurrency=2)
        broadcaster = Broadcaster()
        feed = IndexFeed(broadcaster, IndexReader(store))
        submitter = Submitter(store, broadcaster, Router(store), KeepFilter(), config.node.hostname, None)
        service = RestService(config, store, tls, broadcaster, feed, login, submitter, tokens=tokens)
        holder["service"] = service
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            await service.start(stack)
            started.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(20), "service did not start"
    if failure:
        raise failure[0]
    scheme = "https" if listen != "127.0.0.1" else "http"
    try:
        yield Running(f"{scheme}://127.0.0.1:{config.ports.rest}", holder["service"], loop)
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()
        if failure:
            raise failure[0]


@pytest.fixture(scope="module")
def rest(accounts: Accounts) -> Iterator[Running]:
    with running_service(accounts.store) as running:
        yield running


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def curl(url: str, *args: str, method: str = "GET", data: str | None = None, token: str | None = None) -> Reply:
    """One request with the real curl; status, headers (lower-cased names) and body."""
    cmd = ["curl", "-sS", "-k", "--max-time", "30", "-X", method, "-D", "-", url, *args]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", data]
    if token is not None:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status, headers, body)


def login(url: str, address: str = ADDRESS, password: str = PASSPHRASE) -> Reply:
    return curl(f"{url}/v1/login", method="POST", data=json.dumps({"address": address, "password": password}))
