"""What a script runs against besides the message: the SMTP envelope and the node's environment.

The accept pipeline builds one :class:`SieveEnvelope` per recipient (RFC 5228 section 5.4:
``envelope "to"`` is the one recipient being delivered to, as Pigeonhole does) and one
:class:`Environment` per account. ``mesyx sieve test`` builds both from its options.

Spam scores (RFC 5235): Mesyx's optional scoring writes the score into a header field, and
``spamtest`` / ``spamtestplus`` read it back from there: the first number in the field
named :attr:`Environment.spam_header` (``X-Spam-Score`` by default, as SpamAssassin and
Rspamd write it, e.g. ``X-Spam-Score: 7.3`` or ``X-Spam-Score: 7.3 / 15.0``) scaled from
``0 .. spam_max`` to the RFC's range: ``1 .. 10`` for ``spamtest`` (0 when the field is
missing: not tested), ``0 .. 100`` for ``spamtestplus :percent``. A negative score is
clean (1 / 0 %), a score at or above ``spam_max`` is certainly spam (10 / 100 %).

Vacation (RFC 5230 section 4.1, RFC 6131): the period between two replies to one sender
defaults to 7 days and is clamped between 1 and 90 days, Pigeonhole's defaults
(``sieve_vacation_default_period``, ``min_period``, ``max_period``). ``addresses`` are the
account's own addresses: no reply goes to them, and a reply is sent only when one of them
(or the envelope recipient, or one of ``:addresses``) is among the message's recipients
(section 4.5); they are compared case-insensitively, ``+detail`` included, as Pigeonhole
compares them.
"""

from __future__ import annotations

import datetime
import socket
from dataclasses import dataclass, field

__all__ = ["SieveEnvelope", "Environment", "DAY"]

DAY = 86_400


@dataclass(frozen=True)
class SieveEnvelope:
    """The SMTP envelope of one delivery: ``MAIL FROM`` (``""`` for the null sender), one ``RCPT TO``.

    ``auth`` is the authenticated sender (RFC 4954 ``AUTH=``) when there is one, for
    ``envelope "auth"`` (RFC 5228 section 5.4 lets implementations add parts).
    """

    mail_from: str
    rcpt_to: str
    auth: str | None = None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Environment:
    """The node and account facts a script may ask about.

    ``mailboxes`` are the names of the account's existing mailboxes, for ``mailboxexists``
    (RFC 5490 section 3.1) and ``fileinto`` without ``:create``; None means unknown, and
    then only INBOX is known to exist. ``now`` is the delivery time, for ``currentdate``
    (RFC 5260 section 5) and for ``date`` tests without ``:zone`` (in its offset).
    """

    hostname: str = field(default_factory=socket.gethostname)
    now: datetime.datetime = field(default_factory=_now)
    mailboxes: frozenset[str] | None = None
    addresses: tuple[str, ...] = ()
    spam_header: str = "X-Spam-Score"
    spam_max: float = 10.0
    vacation_default_period: int = 7 * DAY
    vacation_min_period: int = DAY
    vacation_max_period: int = 90 * DAY
    #: The subaddress separator (RFC 5233 section 4), as in Mesyx's routing.
    separator: str = "+"

    def mailbox_exists(self, name: str) -> bool:
        """Does mailbox ``name`` exist (INBOX always does; RFC 3501 section 5.1: its name is case-insensitive)?"""
        if name.upper() == "INBOX":
            return True
        return self.mailboxes is not None and name in self.mailboxes

    def vacation_period(self, seconds: int | None) -> int:
        """The reply period in seconds: the script's, clamped to the allowed range, or the default."""
        if seconds is None:
            return self.vacation_default_period
        return max(self.vacation_min_period, min(self.vacation_max_period, seconds))
