"""Payloads sealed to each device of an account that routes or filters its mail.

DESIGN.md (Operations, "Who can read a payload"): payloads meant for accept nodes (SIEVE
scripts, routing) are sealed to each accept node's box key, so no exchange node or
database dump shows them. Client devices get a copy too: they originate these operations
and must read back what they wrote. The layout is ``u32 count`` then, per reader,
``text node id | var sealed box``: a reader finds its own copy by its node id (node ids
are on the signed device list already, so naming them tells a blind node nothing new).

Routing (:mod:`mesyx.accounts`) and SIEVE scripts (:mod:`mesyx.store.sieve_scripts`)
share this layout and these two functions.
"""

from __future__ import annotations

from typing import Any

from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.node import NodeKeys
from mesyx.errors import PermissionDenied
from mesyx.store.devices import DeviceList, DeviceRole
from mesyx.store.payloads import open_json, seal_json

__all__ = ["READER_ROLES", "seal_to_devices", "open_own_copy", "readers_of"]

#: Roles whose devices get a copy: accept filters and routes, client originates.
READER_ROLES = frozenset({DeviceRole.ACCEPT, DeviceRole.CLIENT})


def seal_to_devices(devices: DeviceList, value: dict[str, Any]) -> bytes:
    """``value`` as JSON, sealed once to each accept and client device's box key."""
    readers = [d for d in devices.devices if d.role in READER_ROLES]
    writer = Writer().u32(len(readers))
    for device in readers:
        writer.text(device.node_id).var(seal_json(device.box_key, value))
    return writer.getvalue()


def _copies(payload: bytes, what: str) -> dict[str, bytes]:
    reader = Reader(payload, what)
    copies = {reader.text(): reader.var() for _ in range(reader.u32())}
    reader.end()
    return copies


def readers_of(payload: bytes, what: str) -> frozenset[str]:
    """The node ids a payload was sealed to (Corrupt if it does not parse)."""
    return frozenset(_copies(payload, what))


def open_own_copy(payload: bytes, node: NodeKeys, what: str) -> dict[str, Any]:
    """This node's copy, opened with its box key.

    Raises PermissionDenied when the payload holds no copy for this node (it was not an
    accept or client device of the account when the payload was sealed), CryptoError when
    the copy does not open, Corrupt when the layout does not parse.
    """
    sealed = _copies(payload, what).get(node.node_id)
    if sealed is None:
        raise PermissionDenied(f"{what} was not sealed to this node (not on the account's device list then)")
    return open_json(node.box_private, sealed, what)
