"""Client logins: off the event loop, one answer for every failure, failures throttled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mesyx.accounts import add_app_password, create_account, export_public, import_public
from mesyx.config import LimitsConfig
from mesyx.crypto.node import NodeKeys
from mesyx.errors import LimitExceeded
from mesyx.keyset_policy import load_policy
from mesyx.modes.client.login import AuthenticationFailed, LoginService
from mesyx.store.mailcrypt import unlock
from mesyx.store.store import Store

APP_PASSWORDS: dict[str, str] = {}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root: Path = tmp_path_factory.mktemp("login")
    store = Store(f"sqlite:///{root / 'db.sqlite3'}", root / "blobs", NodeKeys.generate())
    store.create_schema()
    record = create_account(store, "gina@mesyx.test", "right horse", load_policy("weekly"), "moderate")
    create_account(store, "hal@mesyx.test", "hal pass", load_policy("weekly"), "interactive")
    APP_PASSWORDS["gina"] = add_app_password(store, unlock(store, record, "right horse"), "phone")[1]
    other = Store(f"sqlite:///{root / 'other.sqlite3'}", root / "oblobs", NodeKeys.generate())
    other.create_schema()
    remote = create_account(other, "ivy@mesyx.test", "ivy pass", load_policy("weekly"), "interactive")
    import_public(store, export_public(other, remote))  # public parts only on this node
    return store


def _service(store: Store, per_address: int = 10, per_ip: int = 30) -> LoginService:
    limits = LimitsConfig(
        failed_logins_per_address_per_minute=per_address, failed_logins_per_client_ip_per_minute=per_ip
    )
    return LoginService(store, limits, concurrency=2)


def test_passphrase_and_app_password_log_in(store: Store) -> None:
    async def run() -> None:
        service = _service(store)
        account = await service.login("Gina@mesyx.test", "right horse", "127.0.0.1")
        assert account.record.primary_address == "gina@mesyx.test"
        fast = await service.login("gina@mesyx.test", APP_PASSWORDS["gina"], "127.0.0.1")
        assert fast.master_key == account.master_key

    asyncio.run(run())


def test_every_failure_is_the_same_answer(store: Store) -> None:
    async def run() -> list[str]:
        service = _service(store)
        messages = []
        for address, secret in (
            ("gina@mesyx.test", "wrong"),
            ("nobody@mesyx.test", "right horse"),
            ("ivy@mesyx.test", "ivy pass"),  # public keys only on this node
            ("gina@mesyx.test", "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd"),
        ):
            with pytest.raises(AuthenticationFailed) as caught:
                await service.login(address, secret, "10.0.0.1")
            messages.append(str(caught.value))
        return messages

    assert set(asyncio.run(run())) == {"authentication failed"}


def test_failures_throttle_per_address_and_per_ip(store: Store) -> None:
    async def run() -> None:
        service = _service(store, per_address=3, per_ip=5)
        for _ in range(3):
            with pytest.raises(AuthenticationFailed):
                await service.login("hal@mesyx.test", "guess", "10.0.0.2")
        with pytest.raises(LimitExceeded):
            await service.login("hal@mesyx.test", "hal pass", "10.0.0.3")  # the right one, too late
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                await service.login("nobody@mesyx.test", "guess", "10.0.0.2")
        with pytest.raises(LimitExceeded):
            await service.login("gina@mesyx.test", "right horse", "10.0.0.2")  # this IP spent its budget
        assert (await service.login("gina@mesyx.test", "right horse", "10.0.0.9")).record.addresses

    asyncio.run(run())


def test_argon2_runs_off_the_event_loop(store: Store) -> None:
    async def run() -> tuple[int, float]:
        service = _service(store)
        ticks = 0
        longest = 0.0

        async def ticker() -> None:
            nonlocal ticks, longest
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                longest = max(longest, now - last)
                last = now
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        await asyncio.gather(*(service.login("gina@mesyx.test", "right horse", "127.0.0.1") for _ in range(4)))
        elapsed = time.monotonic() - started
        task.cancel()
        return ticks, elapsed

    ticks, elapsed = asyncio.run(run())
    # Four 'moderate' Argon2id runs take a while; had they run on the loop, the ticker
    # could not have ticked in between. Count ticks, not time: a busy machine is fine.
    assert ticks >= 10, (ticks, elapsed)


def test_a_passphrase_login_publishes_the_coming_keysets(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    lean = tmp_path / "lean.toml"
    lean.write_text('[short_term]\nperiod = "week"\n[metadata]\nperiod = "always"\n', encoding="utf-8")
    record = create_account(store, "jo@mesyx.test", "jo pass", load_policy(str(lean)), "interactive")
    assert len(store.keysets(record.account_id)) == 2
    service = LoginService(store, LimitsConfig(), policy=load_policy("weekly"))
    asyncio.run(service.login("jo@mesyx.test", "jo pass", "127.0.0.1"))
    roles = sorted(k.public.role.value for k in store.keysets(record.account_id))
    assert roles.count("short-term") == 5 and roles.count("long-term") == 2 and roles.count("metadata") == 1
    announced = [op for op in store.operations(record.account_id) if op.kind.name == "KEYSET_ANNOUNCE"]
    assert len(announced) == 8
    asyncio.run(service.login("jo@mesyx.test", "jo pass", "127.0.0.1"))
    assert len(store.keysets(record.account_id)) == 8, "a second login creates nothing new"
