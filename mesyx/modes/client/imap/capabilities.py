"""What the IMAP server advertises: only what it implements (issue 3, point 3).

The list depends on the connection (RFC 9051 section 6.1.1: "the server MAY advertise
different capabilities" before and after login, and after STARTTLS):

* ``STARTTLS`` only before login, on a plain connection, when a TLS context exists
  (RFC 9051 section 6.2.1);
* ``LOGINDISABLED`` on a plain connection from another host: LOGIN and AUTHENTICATE
  PLAIN are refused there with ``NO [PRIVACYREQUIRED]`` (RFC 9051 section 6.2.3,
  DESIGN.md "plain LOGIN ... allowed only on loopback"), and ``AUTH=PLAIN`` is not
  advertised (RFC 4616 section 6: PLAIN only under a confidential channel);
* mailbox extensions (NAMESPACE, UNSELECT, ...) only once a mailbox backend serves them.

Each command module names the extensions it implements with :func:`advertise`, next to
the code that implements them, so the list cannot claim what no module serves.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BASE", "PRE_AUTH", "capabilities", "advertise", "backend_capabilities", "enableable"]

#: Always: the protocol, non-synchronizing literals the reader takes (RFC 7888), ID (RFC 2971),
#: ENABLE (RFC 5161), SASL-IR (RFC 4959, the reader decodes the initial response).
BASE: tuple[str, ...] = ("IMAP4rev1", "LITERAL+", "ID", "ENABLE")
#: Before login, on a connection where logins are allowed.
PRE_AUTH: tuple[str, ...] = ("SASL-IR", "AUTH=PLAIN")

_advertised: list[str] = []
_enableable: list[str] = []


def advertise(*names: str, enable: bool = False) -> None:
    """Advertise ``names`` after login; with ``enable``, ENABLE (RFC 5161) may turn them on."""
    for name in names:
        if name not in _advertised:
            _advertised.append(name)
        if enable and name not in _enableable:
            _enableable.append(name)


def backend_capabilities() -> tuple[str, ...]:
    """What the command modules advertised, in the order they did."""
    return tuple(_advertised)


def enableable() -> tuple[str, ...]:
    """What ENABLE may turn on."""
    return tuple(_enableable)


def capabilities(
    *,
    authenticated: bool,
    secure: bool,
    loopback: bool,
    starttls: bool,
    extra: Iterable[str] = (),
) -> tuple[str, ...]:
    """The CAPABILITY list for a connection in this state.

    ``starttls`` says a TLS context is available; ``extra`` are the capabilities of the
    mailbox backend (only meaningful after login, but harmless before).
    """
    caps = list(BASE)
    if not authenticated:
        if starttls and not secure:
            caps.append("STARTTLS")
        if secure or loopback:
            caps += PRE_AUTH
        else:
            caps.append("LOGINDISABLED")
    caps += [c for c in extra if c not in caps]
    return tuple(caps)
