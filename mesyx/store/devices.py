"""The account's signed device list: which nodes may originate which operations.

The account signing key (held only on client nodes) signs the list; every node,
exchange included, drops an operation whose origin is not on the list for its kind
(DESIGN.md, Keys). The list with the highest version wins.

A revoked device leaves ``devices`` (so nothing is sealed to it any more and it may
originate nothing new) but stays in ``revoked`` with the highest seq of its operations the
revoking client had seen: peers that receive those earlier operations later still take
them, so revocation never makes two nodes disagree about the past. Lists without a
revoked device keep the v1 layout byte for byte; ``mesyx-devices-v2`` adds the revoked
entries after the devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nacl.signing import SigningKey
from sqlalchemy import Connection, select, update

from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.node import node_id_of, verify_signature
from mesyx.errors import Corrupt, NotFound, PermissionDenied
from mesyx.store import schema as t
from mesyx.store.operations import Operation, OpKind

__all__ = [
    "DeviceRole", "Device", "Revoked", "DeviceList", "ALLOWED_KINDS", "load_for_update", "save_if_newer", "supersedes",
]

_V1, _V2 = "mesyx-devices-v1", "mesyx-devices-v2"


class DeviceRole(StrEnum):
    ACCEPT = "accept"
    CLIENT = "client"
    REENCRYPT = "reencrypt"
    RELAY = "relay"


#: What each role may originate (DESIGN.md, Keys: "Device list"). An accept node puts
#: envelopes and carries out its SIEVE actions: the mailbox a ``fileinto`` creates and the
#: outbox items of ``redirect``, ``vacation`` and rejection notices (issue 5).
ALLOWED_KINDS: dict[DeviceRole, frozenset[OpKind]] = {
    DeviceRole.ACCEPT: frozenset({OpKind.PUT, OpKind.MAILBOX_CREATE, OpKind.OUTBOX}),
    DeviceRole.CLIENT: frozenset(OpKind),
    DeviceRole.REENCRYPT: frozenset({OpKind.PUT, OpKind.REWRAP, OpKind.REPLACE}),
    DeviceRole.RELAY: frozenset(),
}


@dataclass(frozen=True)
class Device:
    verify_key: bytes
    box_key: bytes
    role: DeviceRole

    @property
    def node_id(self) -> str:
        return node_id_of(self.verify_key)


@dataclass(frozen=True)
class Revoked:
    """A device taken off the list: its operations up to ``last_seq`` stay valid."""

    verify_key: bytes
    role: DeviceRole
    last_seq: int

    @property
    def node_id(self) -> str:
        return node_id_of(self.verify_key)


@dataclass(frozen=True)
class DeviceList:
    account_id: bytes
    version: int
    devices: tuple[Device, ...]
    signature: bytes = b""
    revoked: tuple[Revoked, ...] = ()

    def _body(self) -> bytes:
        writer = Writer().text(_V2 if self.revoked else _V1).var(self.account_id).u64(self.version)
        writer.u32(len(self.devices))
        for device in sorted(self.devices, key=lambda d: d.verify_key):
            writer.fixed(device.verify_key, 32).fixed(device.box_key, 32).text(device.role.value)
        if self.revoked:
            writer.u32(len(self.revoked))
            for gone in sorted(self.revoked, key=lambda r: r.verify_key):
                writer.fixed(gone.verify_key, 32).text(gone.role.value).u64(gone.last_seq)
        return writer.getvalue()

    def with_device(self, device: Device) -> DeviceList:
        """The next version (unsigned) with ``device`` added, or its entry replaced."""
        others = [d for d in self.devices if d.verify_key != device.verify_key]
        revoked = [r for r in self.revoked if r.verify_key != device.verify_key]
        return self._next([*others, device], revoked)

    def without(self, node_id: str, last_seq: int) -> DeviceList:
        """The next version (unsigned) with ``node_id`` revoked after its op ``last_seq``."""
        device = self.find(node_id)
        if device is None:
            raise NotFound(f"node {node_id} is not on the account's device list")
        others = [d for d in self.devices if d.verify_key != device.verify_key]
        return self._next(others, [*self.revoked, Revoked(device.verify_key, device.role, last_seq)])

    def _next(self, devices: list[Device], revoked: list[Revoked]) -> DeviceList:
        """Version + 1, unsigned, entries in their encoded order (so a decoded copy is equal)."""
        return DeviceList(self.account_id, self.version + 1, tuple(sorted(devices, key=lambda d: d.verify_key)),
                          b"", tuple(sorted(revoked, key=lambda r: r.verify_key)))

    def signed(self, account_key: SigningKey) -> DeviceList:
        signature = bytes(account_key.sign(self._body()).signature)
        return DeviceList(self.account_id, self.version, self.devices, signature, self.revoked)

    def verify(self, account_verify_key: bytes) -> None:
        verify_signature(account_verify_key, self._body(), self.signature)

    def encode(self) -> bytes:
        return Writer().var(self._body()).fixed(self.signature, 64).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> DeviceList:
        outer = Reader(data, "device list")
        body, signature = outer.var(), outer.fixed(64)
        outer.end()
        reader = Reader(body, "device list")
        layout = reader.text()
        if layout not in (_V1, _V2):
            raise Corrupt("device list has an unknown format")
        account_id, version, count = reader.var(), reader.u64(), reader.u32()
        devices = [Device(reader.fixed(32), reader.fixed(32), _role(reader.text())) for _ in range(count)]
        revoked = []
        if layout == _V2:
            revoked = [Revoked(reader.fixed(32), _role(reader.text()), reader.u64()) for _ in range(reader.u32())]
            if not revoked:
                raise Corrupt("device list v2 revokes no device")
        reader.end()
        return cls(account_id, version, tuple(devices), signature, tuple(revoked))

    def find(self, node_id: str) -> Device | None:
        return next((d for d in self.devices if d.node_id == node_id), None)

    def authorise(self, op: Operation) -> None:
        """Verify ``op``'s signature and its origin's right to its kind, or raise.

        A device-list operation may come from any listed client; the list it carries is
        checked separately against the account key.
        """
        if op.account_id != self.account_id:
            raise PermissionDenied("operation belongs to another account")
        device: Device | Revoked | None = self.find(op.origin)
        if device is None:
            device = next((r for r in self.revoked if r.node_id == op.origin), None)
            if device is None:
                raise PermissionDenied(f"origin {op.origin} is not on the account's device list")
            if op.seq > device.last_seq:
                raise PermissionDenied(f"origin {op.origin} was revoked from the account's device list")
        if op.kind not in ALLOWED_KINDS[device.role]:
            raise PermissionDenied(f"origin {op.origin} ({device.role}) may not originate {op.kind.name}")
        op.verify(device.verify_key)


def _role(text: str) -> DeviceRole:
    try:
        return DeviceRole(text)
    except ValueError as exc:
        raise Corrupt("device list names an unknown role") from exc


def load_for_update(conn: Connection, account_id: bytes) -> DeviceList:
    """The account's stored list, its row locked until the caller's write transaction ends
    (PostgreSQL; SQLite's write transaction holds the database lock from BEGIN), so two
    changes on one node never both build on the same version."""
    row = conn.execute(
        select(t.accounts.c.device_list).where(t.accounts.c.account_id == account_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such account on this node")
    if row.device_list is None:
        raise NotFound("the account has no device list on this node")
    return DeviceList.decode(bytes(row.device_list))


def supersedes(new: DeviceList, old: DeviceList) -> bool:
    """Whether ``new`` replaces ``old``: a higher version, or, for two lists of one version
    (two client devices that each signed the next version while apart), the greater
    encoding, so every node keeps the same one whatever order they arrive in."""
    return (new.version, new.encode()) > (old.version, old.encode())


def save_if_newer(conn: Connection, devices: DeviceList) -> bool:
    """Store ``devices`` as its account's list if it :func:`supersedes` the stored one.

    The caller verified the signature against the account key; this runs inside the
    caller's write transaction (with the operation that carries the list). Returns
    whether the list was stored. The same rule as replication's, so a list made here and
    one that arrives settle on the same winner whatever order they come in.
    """
    row = conn.execute(select(t.accounts.c.device_list).where(t.accounts.c.account_id == devices.account_id)).first()
    if row is None:
        raise NotFound("no such account on this node")
    if row.device_list is not None and not supersedes(devices, DeviceList.decode(bytes(row.device_list))):
        return False
    conn.execute(
        update(t.accounts).where(t.accounts.c.account_id == devices.account_id).values(device_list=devices.encode())
    )
    return True
