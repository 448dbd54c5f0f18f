"""Address header fields as SEARCH and SORT see them (RFC 3501 section 6.4.4, RFC 5256, RFC 5957).

SEARCH FROM/TO/CC/BCC match the *parsed* address list, not the raw field: Dovecot writes
each address back as ``Display Name <mailbox@host>`` (groups as ``name: members;``) and
matches the search string as a substring of that, so comments and odd spacing inside an
address (``<user (c)@ (c) domain.org>``) do not hide it, and a comment-as-name
(``user@host (Real Name)``) is found by the name. SORT FROM/TO/CC compare the local part
(``addr-mailbox``) of the first address (RFC 5256 section 3); SORT DISPLAYFROM/DISPLAYTO
the first address's decoded display name, or its addr-spec when it has none (RFC 5957
section 2.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from mesyx.proto.mime.addresses import MISSING_DOMAIN, MISSING_MAILBOX, Address, parse_address_list
from mesyx.proto.mime.text import decode_words

__all__ = ["address_search_text", "first_mailbox", "display_address"]


def _spec(addr: Address) -> str:
    mailbox = "" if addr.mailbox in (None, MISSING_MAILBOX) else decode_words(addr.mailbox or b"")
    host = "" if addr.host in (None, MISSING_DOMAIN) else decode_words(addr.host or b"")
    return f"{mailbox}@{host}" if mailbox and host else mailbox or host


def _written(addresses: list[Address]) -> str:
    """The list written back the way Dovecot's ``message_address_write`` does, names decoded."""
    out: list[str] = []
    in_group = False
    for addr in addresses:
        if addr.host is None and addr.mailbox is not None:  # group start
            out.append(decode_words(addr.mailbox) + ":")
            in_group = True
            continue
        if addr.mailbox is None:  # group end
            out.append(";")
            in_group = False
            continue
        sep = " " if in_group and out and out[-1].endswith(":") else (", " if out else "")
        spec = _spec(addr)
        text = f"{decode_words(addr.name)} <{spec}>" if addr.name else spec
        out.append(sep + text)
    return "".join(out)


def address_search_text(values: Iterable[bytes]) -> str | None:
    """What ``SEARCH FROM|TO|CC|BCC`` matches in the fields ``values``; None when there is none."""
    written = [_written(parse_address_list(v)) for v in values]
    return "\n".join(written) if written else None


def first_mailbox(value: bytes | None) -> str:
    """The ``addr-mailbox`` of the first address (a group's name for a group), or "" (RFC 5256 section 3)."""
    addresses = parse_address_list(value)
    if not addresses or addresses[0].mailbox in (None, MISSING_MAILBOX):
        return ""
    return decode_words(addresses[0].mailbox or b"")


def display_address(value: bytes | None) -> str:
    """RFC 5957 section 2.1: the first address's display name (decoded), else its addr-spec, else "".

    A group counts by its name (``To: undisclosed:;`` sorts as "undisclosed"), as in Dovecot.
    """
    addresses = parse_address_list(value)
    first = addresses[0] if addresses else None
    if first is None or first.mailbox is None:
        return ""
    if first.host is None:
        return decode_words(first.mailbox)
    if first.name:
        name = decode_words(first.name).strip()
        if name:
            return name
    return _spec(first)
