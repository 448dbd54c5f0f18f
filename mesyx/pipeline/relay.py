"""Where mail for other domains goes: the relay an outbox item is sealed to.

Shared by every path that sends mail on (DESIGN.md, Operations: "outbox items are sealed to
the relay node's box key"): client mode's submission, and the accept pipeline's SIEVE
``redirect``, ``vacation`` and rejection notices. The relay is named by the node's
configuration (``submission.relay_node``) and found, with the box key to seal to, on the
account's signed device list, so a tampered configuration cannot point mail at a node the
account never listed; with none configured, the node itself is the relay (the relay of a
later issue runs here).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mesyx.crypto.node import NodeKeys
from mesyx.errors import Temporary
from mesyx.store.devices import DeviceRole
from mesyx.store.operations import OpKind
from mesyx.store.outbox import OutboxItem
from mesyx.store.records import AccountRecord

__all__ = ["Relay", "choose_relay", "outbox_change"]


@dataclass(frozen=True)
class Relay:
    """Where outbox items go: a node id and the X25519 box key they are sealed to."""

    node_id: str
    box_key: bytes


def choose_relay(record: AccountRecord, relay_node: str | None, node: NodeKeys) -> Relay:
    """The configured relay's box key from the account's device list (verified against the
    account key when the list was taken in); with no relay configured, ``node``'s own.

    Raises Temporary when the configured relay is not a relay on the list: the message
    waits (SMTP 451) until the device list names it, instead of going elsewhere.
    """
    if relay_node is None:
        return Relay(node.node_id, bytes(node.box_public))
    devices = record.device_list
    device = devices.find(relay_node) if devices is not None else None
    if device is None or device.role is not DeviceRole.RELAY:
        raise Temporary(f"relay node {relay_node} is not a relay on the account's device list")
    return Relay(relay_node, device.box_key)


def outbox_change(relay: Relay, mail_from: str, recipients: tuple[str, ...], message: bytes,
                  now: float | None = None) -> tuple[OpKind, bytes, bytes]:
    """The ``(kind, target, payload)`` of the OUTBOX operation for one message to send on.

    The target is empty: linking the item to a stored envelope would tell a blind node which
    one went out (:mod:`mesyx.store.outbox`).
    """
    item = OutboxItem(time.time() if now is None else now, mail_from, recipients, message)
    return OpKind.OUTBOX, b"", item.seal(relay.node_id, relay.box_key)
