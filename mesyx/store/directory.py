"""Accounts, routing, app passwords and keysets: the store's directory half.

Addresses are kept only as keyed BLAKE2b hashes (for routing) and sealed to this node's
box key (for display), never in the clear (docs/threat-model.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import nacl.exceptions
from nacl.public import SealedBox
from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mesyx.crypto.account import PassphraseWrap
from mesyx.crypto.encoding import blake2b
from mesyx.crypto.keysets import KeysetPublic, KeysetStatus
from mesyx.errors import CryptoError, Exists, NotFound, UsageError
from mesyx.store import schema as t
from mesyx.store.base import StoreBase
from mesyx.store.devices import DeviceList, save_if_newer
from mesyx.store.records import AccountRecord, AppPasswordRecord, KeysetRecord

__all__ = ["Directory", "normalise_address"]


def normalise_address(address: str) -> str:
    """Case-fold the whole address: local parts are case-insensitive in practice."""
    return address.strip().strip("<>").lower()



class Directory(StoreBase):
    # -- accounts and routing ----------------------------------------------------------

    def address_hash(self, address: str) -> bytes:
        return blake2b(normalise_address(address).encode("utf-8"), key=self._route_key, person=b"mesyx-route")

    def _seal_addresses(self, addresses: Sequence[str]) -> bytes:
        plain = json.dumps(list(addresses)).encode("utf-8")
        return bytes(SealedBox(self.node.box_public).encrypt(plain))

    def _open_addresses(self, sealed: bytes) -> tuple[str, ...]:
        try:
            return tuple(json.loads(SealedBox(self.node.box_private).decrypt(sealed)))
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise CryptoError("account addresses do not open with this node's key") from exc

    def add_account(self, record: AccountRecord) -> None:
        with self._write() as conn:
            self._check_addresses_free(conn, record.addresses)
            try:
                conn.execute(
                    insert(t.accounts).values(
                        account_id=record.account_id,
                        verify_key=record.verify_key,
                        created_at=record.created_at,
                        addresses_sealed=self._seal_addresses(record.addresses),
                        device_list=record.device_list.encode() if record.device_list else None,
                        passphrase_wrap=record.passphrase_wrap.encode() if record.passphrase_wrap else None,
                        signing_key_sealed=record.signing_key_sealed,
                    )
                )
            except IntegrityError as exc:
                raise Exists("this account exists on this node already") from exc
            self._insert_routes(conn, record.account_id, record.addresses)

    def _check_addresses_free(self, conn: Connection, addresses: Sequence[str], owner: bytes = b"") -> None:
        for address in addresses:
            row = conn.execute(
                select(t.routes.c.account_id).where(t.routes.c.address_hash == self.address_hash(address))
            ).first()
            if row is not None and row.account_id != owner:
                raise Exists(f"address {address} belongs to another account on this node")

    def _insert_routes(self, conn: Connection, account_id: bytes, addresses: Sequence[str]) -> None:
        if not addresses:
            raise UsageError("an account needs at least one address")
        # Spellings that differ only in case are one route: insert each hash once.
        hashes = sorted({self.address_hash(a) for a in addresses})
        conn.execute(insert(t.routes), [{"address_hash": h, "account_id": account_id} for h in hashes])

    def set_addresses(self, account_id: bytes, addresses: Sequence[str]) -> None:
        with self._write() as conn:
            self._check_addresses_free(conn, addresses, owner=account_id)
            conn.execute(delete(t.routes).where(t.routes.c.account_id == account_id))
            self._insert_routes(conn, account_id, addresses)
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.account_id == account_id)
                .values(addresses_sealed=self._seal_addresses(addresses))
            )

    def set_passphrase_wrap(self, account_id: bytes, wrap: PassphraseWrap) -> None:
        with self._write() as conn:
            conn.execute(
                update(t.accounts).where(t.accounts.c.account_id == account_id).values(passphrase_wrap=wrap.encode())
            )

    def route(self, address: str) -> bytes | None:
        """The account an exact address belongs to; ``+detail`` is the pipeline's job."""
        with self._read() as conn:
            row = conn.execute(
                select(t.routes.c.account_id).where(t.routes.c.address_hash == self.address_hash(address))
            ).first()
        return None if row is None else bytes(row.account_id)

    def accounts(self) -> list[AccountRecord]:
        with self._read() as conn:
            rows = conn.execute(select(t.accounts).order_by(t.accounts.c.created_at)).all()
        return [self._account(row) for row in rows]

    def account(self, account_id: bytes) -> AccountRecord:
        with self._read() as conn:
            row = conn.execute(select(t.accounts).where(t.accounts.c.account_id == account_id)).first()
        if row is None:
            raise NotFound("no such account on this node")
        return self._account(row)

    def find_account(self, address: str) -> AccountRecord:
        account_id = self.route(address)
        if account_id is None:
            raise NotFound(f"no account with address {address} on this node")
        return self.account(account_id)

    def _account(self, row: object) -> AccountRecord:
        r = row._mapping  # type: ignore[attr-defined]
        return AccountRecord(
            account_id=bytes(r["account_id"]),
            verify_key=bytes(r["verify_key"]),
            created_at=float(r["created_at"]),
            addresses=self._open_addresses(bytes(r["addresses_sealed"])),
            device_list=DeviceList.decode(bytes(r["device_list"])) if r["device_list"] is not None else None,
            passphrase_wrap=PassphraseWrap.decode(bytes(r["passphrase_wrap"])) if r["passphrase_wrap"] else None,
            signing_key_sealed=bytes(r["signing_key_sealed"]) if r["signing_key_sealed"] else None,
        )

    def has_private_material(self) -> bool:
        """Whether any account or keyset private half is on this node (daemon.py asks)."""
        with self._read() as conn:
            acct = conn.execute(
                select(func.count()).select_from(t.accounts).where(
                    (t.accounts.c.passphrase_wrap.is_not(None)) | (t.accounts.c.signing_key_sealed.is_not(None))
                )
            ).scalar_one()
            keys = conn.execute(
                select(func.count()).select_from(t.keysets).where(t.keysets.c.private_sealed.is_not(None))
            ).scalar_one()
            apps = conn.execute(select(func.count()).select_from(t.app_passwords)).scalar_one()
        return bool(acct or keys or apps)

    # -- app passwords ----------------------------------------------------------------

    def add_app_password(self, account_id: bytes, label: str, wrap: bytes) -> int:
        with self._write() as conn:
            result = conn.execute(
                insert(t.app_passwords).values(account_id=account_id, label=label, created_at=time.time(), wrap=wrap)
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def app_passwords(self, account_id: bytes) -> list[AppPasswordRecord]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.app_passwords).where(t.app_passwords.c.account_id == account_id).order_by(t.app_passwords.c.id)
            ).all()
        return [AppPasswordRecord(r.id, bytes(r.account_id), r.label, r.created_at, bytes(r.wrap)) for r in rows]

    def revoke_app_password(self, account_id: bytes, app_id: int) -> None:
        with self._write() as conn:
            gone = conn.execute(
                delete(t.app_passwords).where(
                    and_(t.app_passwords.c.account_id == account_id, t.app_passwords.c.id == app_id)
                )
            ).rowcount
        if not gone:
            raise NotFound(f"no app password {app_id} for this account")

    # -- keysets ------------------------------------------------------------------------

    def add_keyset(self, public: KeysetPublic, signature: bytes, private_sealed: bytes | None) -> None:
        with self._write() as conn:
            try:
                self._insert_keyset(conn, public, signature, private_sealed)
            except IntegrityError as exc:
                raise Exists(f"keyset {public.name} exists already") from exc

    @staticmethod
    def _insert_keyset(conn: Connection, public: KeysetPublic, signature: bytes, private_sealed: bytes | None) -> None:
        conn.execute(
            insert(t.keysets).values(
                keyset_id=public.keyset_id,
                account_id=public.account_id,
                announcement=public.announcement_bytes(),
                signature=signature,
                role=public.role.value,
                window_start=public.window.start,
                window_end=public.window.end,
                status=KeysetStatus.ACTIVE.value,
                private_sealed=private_sealed,
            )
        )

    def take_client_account(
        self, record: AccountRecord, keysets: Sequence[tuple[KeysetPublic, bytes, bytes | None]]
    ) -> bool:
        """Store a client account and its keysets in one transaction (an enrolment).

        The account may be here already with public parts only, taken in by replication
        before the enrolment file was imported: then its private material, addresses and
        the keysets' private halves are added in place (the verify key must be the same;
        the newer device list wins). Returns whether the account was new here. The caller
        checked every signature and that the passphrase opens the private material.
        """
        with self._write() as conn:
            row = conn.execute(select(t.accounts).where(t.accounts.c.account_id == record.account_id)).first()
            if row is not None and row.passphrase_wrap is not None:
                raise Exists("this account's private keys are on this node already")
            if row is not None and bytes(row.verify_key) != record.verify_key:
                raise Exists("another account with this id is on this node (a different account key)")
            self._check_addresses_free(conn, record.addresses, owner=record.account_id)
            values = {
                "addresses_sealed": self._seal_addresses(record.addresses),
                "passphrase_wrap": record.passphrase_wrap.encode() if record.passphrase_wrap else None,
                "signing_key_sealed": record.signing_key_sealed,
            }
            if row is None:
                conn.execute(insert(t.accounts).values(
                    account_id=record.account_id, verify_key=record.verify_key, created_at=record.created_at,
                    device_list=record.device_list.encode() if record.device_list else None, **values,
                ))
            else:
                conn.execute(update(t.accounts).where(t.accounts.c.account_id == record.account_id).values(**values))
                if record.device_list is not None:
                    save_if_newer(conn, record.device_list)
                conn.execute(delete(t.routes).where(t.routes.c.account_id == record.account_id))
            self._insert_routes(conn, record.account_id, record.addresses)
            have = {bytes(k) for k in conn.execute(
                select(t.keysets.c.keyset_id).where(t.keysets.c.account_id == record.account_id)).scalars()}
            for public, signature, private_sealed in keysets:
                if public.keyset_id not in have:
                    self._insert_keyset(conn, public, signature, private_sealed)
                elif private_sealed is not None:
                    conn.execute(update(t.keysets).where(
                        t.keysets.c.keyset_id == public.keyset_id, t.keysets.c.private_sealed.is_(None)
                    ).values(private_sealed=private_sealed))
        return row is None

    def keysets(self, account_id: bytes) -> list[KeysetRecord]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.keysets).where(t.keysets.c.account_id == account_id).order_by(t.keysets.c.window_start)
            ).all()
        return [
            KeysetRecord(
                KeysetPublic.from_announcement(bytes(r.announcement)),
                bytes(r.signature),
                KeysetStatus(r.status),
                bytes(r.private_sealed) if r.private_sealed is not None else None,
            )
            for r in rows
        ]

