"""Mail addresses as Mesyx routes them: validation, normalisation, ``+detail``.

Routing is case-insensitive on the whole address (what users expect, though RFC 5321
section 2.4 lets a host treat local parts case-sensitively), and ``local+detail@domain``
routes to ``local@domain`` (RFC 5233 subaddressing) unless the full address is an alias.
"""

from __future__ import annotations

import re

from mesyx.errors import UsageError

__all__ = ["check_address", "check_route", "base_address", "ADDRESS_PATTERN"]

# Dot-atom local part and a domain of LDH labels (RFC 5321 section 4.1.2); quoted local
# parts and address literals are refused for accounts, never needed for mailbox names.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#: The shape of an address (without the length limits): also a JSON Schema ``pattern``
#: (the REST API's documents), which is why it uses nothing ECMA regexes lack.
ADDRESS_PATTERN = (
    rf"^{_ATOM}(?:\.{_ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
_ADDRESS = re.compile(ADDRESS_PATTERN)


def check_address(address: str) -> str:
    """Return the normalised (lower-case) address, or raise UsageError saying why not."""
    candidate = address.strip()
    if len(candidate) > 254 or not _ADDRESS.match(candidate) or len(candidate.split("@")[0]) > 64:
        raise UsageError(f"not a valid mail address: {address[:80]!r} (expected local@domain)")
    return candidate.lower()


def check_route(route: str) -> str:
    """An address, or ``@domain`` (a catch-all for the domain); normalised, or UsageError."""
    candidate = route.strip()
    if candidate.startswith("@"):
        return "@" + check_address("catch-all" + candidate).partition("@")[2]
    return check_address(candidate)


def base_address(address: str) -> str | None:
    """``local+detail@domain`` → ``local@domain``; None when there is no detail."""
    local, _, domain = address.rpartition("@")
    if "+" not in local:
        return None
    base = local.split("+", 1)[0]
    return f"{base}@{domain}" if base else None
