"""What ``redirect`` accepts as its address (RFC 5228 section 4.2).

The argument is an RFC 5322 address: a bare ``local@domain``, or a name-addr such as
``Bart <bart@example.com>`` (Pigeonhole takes both). The validator checks a constant one
at upload; the interpreter checks one built from variables at run time. Both ask here.
"""

from __future__ import annotations

import email.utils
import re

__all__ = ["redirect_address"]

_ADDR_SPEC = re.compile(r"[^\s@<>\"(),;:\\\[\]]+@[^\s@<>\"(),;:\\\[\]]+")


def redirect_address(text: str) -> str | None:
    """The addr-spec to send to, or None when ``text`` is not one address."""
    text = text.strip()
    if _ADDR_SPEC.fullmatch(text):
        return text
    if "," in text or text.count("<") != 1 or not text.endswith(">"):
        return None
    _, address = email.utils.parseaddr(text)
    return address if _ADDR_SPEC.fullmatch(address) else None
