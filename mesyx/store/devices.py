"""The account's signed device list: which nodes may originate which operations.

The account signing key (held only on client nodes) signs the list; every node,
exchange included, drops an operation whose origin is not on the list for its kind
(DESIGN.md, Keys). The list with the highest version wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nacl.signing import SigningKey

from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.node import node_id_of, verify_signature
from mesyx.errors import Corrupt, PermissionDenied
from mesyx.store.operations import Operation, OpKind

__all__ = ["DeviceRole", "Device", "DeviceList", "ALLOWED_KINDS"]


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
class DeviceList:
    account_id: bytes
    version: int
    devices: tuple[Device, ...]
    signature: bytes = b""

    def _body(self) -> bytes:
        writer = Writer().text("mesyx-devices-v1").var(self.account_id).u64(self.version).u32(len(self.devices))
        for device in sorted(self.devices, key=lambda d: d.verify_key):
            writer.fixed(device.verify_key, 32).fixed(device.box_key, 32).text(device.role.value)
        return writer.getvalue()

    def signed(self, account_key: SigningKey) -> DeviceList:
        return DeviceList(self.account_id, self.version, self.devices, bytes(account_key.sign(self._body()).signature))

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
        if reader.text() != "mesyx-devices-v1":
            raise Corrupt("device list has an unknown format")
        account_id, version, count = reader.var(), reader.u64(), reader.u32()
        devices = []
        for _ in range(count):
            verify_key, box_key = reader.fixed(32), reader.fixed(32)
            try:
                role = DeviceRole(reader.text())
            except ValueError as exc:
                raise Corrupt("device list names an unknown role") from exc
            devices.append(Device(verify_key, box_key, role))
        reader.end()
        return cls(account_id, version, tuple(devices), signature)

    def find(self, node_id: str) -> Device | None:
        return next((d for d in self.devices if d.node_id == node_id), None)

    def authorise(self, op: Operation) -> None:
        """Verify ``op``'s signature and its origin's right to its kind, or raise.

        A device-list operation may come from any listed client; the list it carries is
        checked separately against the account key.
        """
        if op.account_id != self.account_id:
            raise PermissionDenied("operation belongs to another account")
        device = self.find(op.origin)
        if device is None:
            raise PermissionDenied(f"origin {op.origin} is not on the account's device list")
        if op.kind not in ALLOWED_KINDS[device.role]:
            raise PermissionDenied(f"origin {op.origin} ({device.role}) may not originate {op.kind.name}")
        op.verify(device.verify_key)
