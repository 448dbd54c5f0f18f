"""The filter step of the pipeline: each account's SIEVE script decides (RFC 5228).

:class:`SieveFilter` runs the account's active script (none means the implicit keep,
RFC 5228 section 2.10.2) and turns the interpreter's :class:`~mesyx.sieve.actions.Outcome`
into a :class:`Decision` in the store's terms: mailbox ids, JMAP keywords, mailboxes to
create, and what goes to the outbox. :class:`~mesyx.pipeline.deliver.Deliverer` carries
the decision out. A script that fails at run time gives the implicit keep the outcome
already holds, and one log line without message content (issue 5, safety): a bad script
never loses or blocks a message.
"""

from __future__ import annotations

import contextlib
import datetime
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mesyx.errors import UsageError
from mesyx.log import get_logger
from mesyx.pipeline.inbound import InboundMessage
from mesyx.sieve import CompiledScript, interpret
from mesyx.sieve.actions import Discard, FileInto, Keep, Outcome, Redirect, Reject, Vacation
from mesyx.sieve.environment import Environment, SieveEnvelope
from mesyx.sieve.message import SieveMessage
from mesyx.store.keywords import from_imap
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id, role_mailbox_id
from mesyx.store.records import AccountRecord

__all__ = [
    "Decision",
    "MailboxCreation",
    "Filter",
    "KeepFilter",
    "ScriptSource",
    "Evaluate",
    "SieveFilter",
    "keywords_of",
    "mailbox_path",
]

_log = get_logger("sieve")

#: Mesyx's mailbox hierarchy delimiter (the client index's, RFC 3501 section 5.1.1).
DELIMITER = "/"

@dataclass(frozen=True)
class MailboxCreation:
    """A mailbox a ``fileinto`` needs, created on first use with its deterministic id."""

    mailbox_id: str
    name: str
    parent_id: str | None


@dataclass(frozen=True)
class Decision:
    """What to do with one message for one account.

    ``mailbox_ids`` empty means no envelope (``discard``, or only ``redirect``); ``error``
    is the script's runtime error, already logged (the decision is then the implicit keep).
    """

    mailbox_ids: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    reject_reason: str | None = None
    discard: bool = False
    creations: tuple[MailboxCreation, ...] = ()
    redirects: tuple[str, ...] = ()
    vacations: tuple[Vacation, ...] = ()
    error: str | None = None


class Filter(Protocol):
    async def decide(self, account: AccountRecord, message: InboundMessage, raw: bytes, rcpt: str) -> Decision:
        """``raw`` is the message as stored (with the trace headers); ``rcpt`` the account's
        first recipient, the one ``envelope "to"`` sees."""
        ...


def _inbox(account_id: bytes) -> Decision:
    return Decision((role_mailbox_id(account_id, MailboxRole.INBOX),))


class KeepFilter:
    """Implicit keep: INBOX, no keywords (accounts without a script, and tests)."""

    async def decide(self, account: AccountRecord, message: InboundMessage, raw: bytes, rcpt: str) -> Decision:
        return _inbox(account.account_id)


class ScriptSource(Protocol):
    """An account's active script, compiled; None when it has none.

    Asked for every delivery: it answers from memory and reads the store in a worker
    thread only when its entry is stale (:class:`mesyx.pipeline.scripts.ActiveScripts`).
    """

    async def active(self, account_id: bytes) -> CompiledScript | None: ...


#: :func:`mesyx.sieve.interpret.evaluate`'s shape (tests inject Outcomes of their own).
Evaluate = Callable[[CompiledScript, SieveMessage, SieveEnvelope, Environment], Outcome]


def keywords_of(flags: Iterable[str]) -> tuple[str, ...]:
    """imap4flags flags -> the JMAP keywords the envelope carries (sorted, no duplicates).

    A flag list item may hold several flags separated by spaces (RFC 5232 section 3).
    Flags map as the client index maps IMAP flags (:func:`mesyx.store.keywords.from_imap`:
    ``\\Seen`` is ``$seen``); what no IMAP client could see as a keyword (``\\Recent``,
    another ``\\`` name, a forbidden character, over 255 characters) is dropped, as RFC 5232
    section 3 lets a server ignore flags it cannot store.
    """
    found: set[str] = set()
    for item in flags:
        for flag in item.split():
            with contextlib.suppress(UsageError):
                found.add(from_imap(flag))
    return tuple(sorted(found))


def mailbox_path(account_id: bytes, name: str) -> tuple[str, tuple[MailboxCreation, ...]]:
    """The id of mailbox ``name`` and the creations that make it and its superiors exist.

    Ids as the client index makes them for IMAP CREATE (the hashed path of each level,
    :func:`~mesyx.store.mailbox_ids.named_mailbox_id`), so ``fileinto "Lists/rust"`` and a
    Thunderbird CREATE of ``Lists/rust`` make the same mailboxes. Levels that are INBOX or
    another special-use default exist without a creation. Empty levels are dropped.
    """
    parts = [part for part in name.split(DELIMITER) if part] or ["INBOX"]
    roles = {role_mailbox_id(account_id, role) for role in MailboxRole}
    creations: list[MailboxCreation] = []
    parent: str | None = None
    for depth in range(1, len(parts) + 1):
        mailbox_id = named_mailbox_id(account_id, DELIMITER.join(parts[:depth]))
        if mailbox_id not in roles:
            creations.append(MailboxCreation(mailbox_id, parts[depth - 1], parent))
        parent = mailbox_id
    assert parent is not None
    return parent, tuple(creations)


@dataclass
class _Collect:
    """The actions of one outcome, gathered into a decision."""

    account_id: bytes
    mailboxes: dict[str, None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    creations: dict[str, MailboxCreation] = field(default_factory=dict)
    redirects: list[str] = field(default_factory=list)
    vacations: list[Vacation] = field(default_factory=list)
    reject: str | None = None
    discard: bool = False

    def add(self, action: object) -> None:
        if isinstance(action, Keep):
            self.mailboxes[role_mailbox_id(self.account_id, MailboxRole.INBOX)] = None
            self.flags.extend(action.flags)
        elif isinstance(action, FileInto):
            mailbox_id, creations = mailbox_path(self.account_id, action.mailbox)
            self.mailboxes[mailbox_id] = None
            self.creations.update((c.mailbox_id, c) for c in creations)
            self.flags.extend(action.flags)
        elif isinstance(action, Redirect):
            self.redirects.append(action.address)
        elif isinstance(action, Vacation):
            self.vacations.append(action)
        elif isinstance(action, Reject):
            self.reject = action.reason if self.reject is None else self.reject
        elif isinstance(action, Discard):
            self.discard = True

    def decision(self, error: str | None) -> Decision:
        if self.reject is not None:
            # RFC 5429 section 2.1: a rejected message is not delivered, whatever else ran
            # (the interpreter refuses reject beside keep, fileinto and vacation).
            return Decision((), reject_reason=self.reject, error=error)
        # One envelope in every mailbox the script filed it into; the keywords are the
        # union of their flags (one envelope has one keyword set, RFC 8621 section 4.1.1).
        return Decision(
            tuple(self.mailboxes), keywords_of(self.flags), discard=self.discard and not self.mailboxes,
            creations=tuple(self.creations.values()), redirects=tuple(self.redirects),
            vacations=tuple(self.vacations), error=error,
        )


def decision_of(account_id: bytes, outcome: Outcome) -> Decision:
    """The decision an outcome makes for one account (its actions in execution order)."""
    collect = _Collect(account_id)
    for action in outcome.actions:
        collect.add(action)
    return collect.decision(outcome.error)


class SieveFilter:
    """Runs each account's active script; no script is the implicit keep.

    The environment knows the account's addresses (vacation's own addresses, RFC 5230
    section 4.5) but not its mailboxes: their names are sealed to the metadata keyset, which
    an accept node cannot open. So ``mailboxexists`` (RFC 5490) sees INBOX only, and every
    ``fileinto`` creates its mailbox on first use, ``:create`` or not.
    """

    def __init__(self, source: ScriptSource, hostname: str, evaluate: Evaluate = interpret.evaluate) -> None:
        self.source = source
        self.evaluate = evaluate
        self.hostname = hostname

    async def decide(self, account: AccountRecord, message: InboundMessage, raw: bytes, rcpt: str) -> Decision:
        account_id = account.account_id
        script = await self.source.active(account_id)
        if script is None:
            return _inbox(account_id)
        environment = Environment(
            hostname=self.hostname,
            now=datetime.datetime.fromtimestamp(message.received_at, datetime.UTC),
            addresses=account.addresses,
        )
        # ``envelope "auth"``: the sender a submission server authenticated (RFC 5228 5.4 lets
        # implementations add envelope parts; the login checked it is the account's).
        envelope = SieveEnvelope(message.mail_from, rcpt, message.mail_from if message.authenticated else None)
        try:
            outcome = self.evaluate(script, SieveMessage.parse(raw), envelope, environment)
        except Exception as exc:  # noqa: BLE001 - a user's script must never block mail
            # The interpreter turns every runtime problem into Outcome.error; an exception
            # here is a bug in it, which must not block mail either (issue 5, safety). The
            # exception's text may quote the message: only its type and place are logged.
            where = traceback.extract_tb(exc.__traceback__)[-1]
            _log.error("script_crashed", account=account_id.hex(), error=type(exc).__name__,
                       at=f"{Path(where.filename).name}:{where.lineno}")
            return _inbox(account_id)
        if outcome.error is not None:
            # The reason names the script's problem (a limit, a bad argument), never the
            # message's content; the account is an opaque id.
            _log.warning("script_error", account=account_id.hex(), reason=outcome.error[:200], steps=outcome.steps)
        return decision_of(account_id, outcome)
