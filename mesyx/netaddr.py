"""Which peers are on this machine: the one rule for "plain text only on loopback".

DESIGN.md (Ports): plain LOGIN, AUTH and REST without TLS are allowed only on loopback.
IMAP, submission and the HTTP server ask the same question of a peer's (or a listener's)
address, so it is answered once, here.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """127.0.0.0/8 and ::1, with an IPv6 zone (``::1%lo``) or IPv4-mapped (``::ffff:127.0.0.1``,
    what a dual-stack listener sees of a client on 127.0.0.1); a name (``localhost``) is not
    an address and answers False."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
