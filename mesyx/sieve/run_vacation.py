"""The ``vacation`` action (RFC 5230, ``:seconds`` RFC 6131): decide whether to reply, and what.

A reply is made only when RFC 5230 section 4.5 and 4.6 allow it, checked here in the
order Pigeonhole checks them; when one says no, the action is dropped (that is no error:
the script did its job) and the reason goes into :attr:`Outcome.notes`. No reply goes

* to the null sender, or to one of the user's own addresses (the envelope recipient,
  ``:addresses``, :attr:`Environment.addresses`);
* to senders that are software: ``MAILER-DAEMON``, ``LISTSERV``, ``majordomo``,
  ``owner-*``, ``*-request`` (section 4.6);
* for messages marked as automatic: ``Auto-Submitted`` other than ``no`` (RFC 3834),
  mailing list fields (``List-Id``, ``List-Post`` ... RFC 2369, RFC 2919),
  ``Precedence: bulk / list / junk``;
* unless one of the user's addresses is among ``To``, ``Cc``, ``Bcc``, ``Resent-To``,
  ``Resent-Cc``, ``Resent-Bcc`` (section 4.5): a message that reached the user as a Bcc of
  a list, or through an alias the script does not know, gets no reply.

The duplicate suppression (one reply per sender and handle per period, section 4.2) is
the pipeline's: it keeps the table of who got which reply when. The default handle is a
hash of what makes two vacation actions the same reply (section 4.2: reason, subject,
from, mime), so editing the reason starts a new period.
"""

from __future__ import annotations

import hashlib
from typing import Final

from mesyx.sieve.actions import Vacation
from mesyx.sieve.ast import Call
from mesyx.sieve.environment import DAY
from mesyx.sieve.message import split_address
from mesyx.sieve.run_state import Run

__all__ = ["vacation"]

_LIST_FIELDS: Final = (
    "list-id",
    "list-owner",
    "list-subscribe",
    "list-post",
    "list-unsubscribe",
    "list-help",
    "list-archive",
)
_RECIPIENT_FIELDS: Final = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
_SOFTWARE: Final = frozenset({"mailer-daemon", "listserv", "majordomo"})


def _is_software(address: str) -> bool:
    """MAILER-DAEMON, LISTSERV, majordomo in any case; ``owner-*`` and ``*-request`` as written (as Pigeonhole)."""
    local = split_address(address).localpart
    return local.lower() in _SOFTWARE or local.startswith("owner-") or local.endswith("-request")


def _base(address: str) -> str:
    """An address as vacation compares them: case-insensitive, ``+detail`` kept (as Pigeonhole does)."""
    return address.strip().lower()


def _refusal(run: Run, recipient: str, own: set[str]) -> str | None:
    """Why no reply may go out (RFC 5230 sections 4.5, 4.6), or None when one may."""
    message = run.message
    if not recipient:
        return "the sender is the null address"
    if _base(recipient) in own:
        return "the sender is one of the user's addresses"
    if _is_software(recipient):
        return "the sender is a mailer or list address"
    for value in message.header("auto-submitted"):
        if value.strip().lower() != "no":  # "no; x=y" counts as automatic too, as in Pigeonhole
            return "the message is Auto-Submitted"
    if any(message.has(name) for name in _LIST_FIELDS):
        return "the message comes from a mailing list"
    if any(value.strip().lower() in ("bulk", "list", "junk") for value in message.header("precedence")):
        return "the message has Precedence bulk, list or junk"
    for name in _RECIPIENT_FIELDS:
        for address in message.addresses(name):
            if _base(address.all) in own:
                return None
    return "none of the user's addresses is in To, Cc, Bcc or Resent-*"


def vacation(run: Run, call: Call) -> None:
    """Add the reply to the run's actions if RFC 5230 section 4.5-4.6 allow one."""
    tags = call.tags
    envelope = run.envelope
    addresses = run.expand_all(tags["addresses"]) if "addresses" in tags else ()
    own = {_base(a) for a in (envelope.rcpt_to, *addresses, *run.environment.addresses) if a}
    recipient = envelope.mail_from
    refusal = _refusal(run, recipient, own)
    if refusal is not None:
        run.notes.append(f"vacation: no reply, {refusal}")
        return
    reason = run.expand(str(call.positional[0]))
    if "subject" in tags:
        subject = run.expand(str(tags["subject"]))
    else:
        original = run.message.header("subject")
        subject = "Auto: " + original[0] if original else "Automated reply"
    sender = run.expand(str(tags["from"])) if "from" in tags else envelope.rcpt_to
    mime = bool(tags.get("mime"))
    if "handle" in tags:
        handle = run.expand(str(tags["handle"]))
    else:
        seed = "\0".join((reason, str(tags.get("subject", "")), str(tags.get("from", "")), str(mime)))
        handle = hashlib.blake2b(seed.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    if "seconds" in tags:
        period = run.environment.vacation_period(int(str(tags["seconds"])))
    elif "days" in tags:
        period = run.environment.vacation_period(int(str(tags["days"])) * DAY)
    else:
        period = run.environment.vacation_period(None)
    run.add(Vacation(recipient, sender, subject, reason, handle, period, mime))
