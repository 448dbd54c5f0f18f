"""An account's SIEVE scripts: one replicated operation per change, sealed to its devices.

Design (issue 5; DESIGN.md, Operations):

* **Each SIEVE_SCRIPT operation carries the account's whole script set**, ``{scripts:
  {name: text}, active: name | null}``, and the set with the highest stamp ``(hlc,
  origin, seq)`` wins, like every other register of the log. Why the whole set and not
  one operation per script: quota (RFC 5804 section 2.5) and the invariant "the active
  script exists" hold for every set a client wrote, so they hold for the winner whatever
  the order operations arrive in; RENAMESCRIPT and SETACTIVE are atomic; and reading the
  state means opening one payload, the winner's, not every script ever written. The cost
  is that two devices editing different scripts while apart keep only the later edit;
  scripts change rarely, from one editor at a time, and the quota bounds a set at 4 MiB.
* **The payload is sealed to each accept and client device** of the account's signed
  device list (:mod:`mesyx.store.device_sealed`, the layout routing uses): accept nodes
  run the scripts, clients edit them; an exchange node or a database dump sees neither a
  name nor a line. A device added to the list later reads the scripts once a client
  writes the set again (:func:`republish`).
* **Reading is incremental** (:class:`ScriptSets`): the winner is remembered per account
  with the account's operation heads (:mod:`mesyx.store.op_heads`); a later read looks
  only at the operations stored since, along the primary key, so an accept node asking
  before every message does not rescan a log that grows with every message.

Quota: a script of at most :attr:`Limits.script_bytes` octets of UTF-8, at most
:data:`MAX_SCRIPTS` scripts and :data:`MAX_TOTAL_BYTES` together; names of 1 to
:data:`MAX_NAME_CHARS` characters without control characters (RFC 5804 section 1.6).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, select

from mesyx.errors import Corrupt, Exists, LimitExceeded, NotFound, PermissionDenied, UsageError
from mesyx.sieve.limits import DEFAULT_LIMITS
from mesyx.store import op_heads
from mesyx.store import schema as t
from mesyx.store.device_sealed import open_own_copy, seal_to_devices
from mesyx.store.devices import DeviceRole
from mesyx.store.engine import read_transaction, write_transaction
from mesyx.store.fold import Stamp
from mesyx.store.operations import Operation, OpKind
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store

__all__ = [
    "MAX_SCRIPTS",
    "MAX_TOTAL_BYTES",
    "MAX_NAME_CHARS",
    "QuotaExceeded",
    "ScriptActive",
    "ScriptSet",
    "Current",
    "ScriptSets",
    "check_name",
    "seal_payload",
    "open_payload",
    "edit",
    "republish",
]

#: At most this many scripts per account (ManageSieve QUOTA/MAXSCRIPTS).
MAX_SCRIPTS = 32
#: At most this many octets of script text per account, all scripts together.
MAX_TOTAL_BYTES = 4 * 1024 * 1024
#: RFC 5804 section 1.6: servers must allow names of up to 128 characters.
MAX_NAME_CHARS = 128
_WHAT = "SIEVE script set"


class QuotaExceeded(LimitExceeded):
    """A script set over quota; ``code`` is ManageSieve's (RFC 5804 section 1.3):
    ``QUOTA/MAXSCRIPTS``, ``QUOTA/MAXSIZE`` or ``QUOTA`` (the account's total)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ScriptActive(PermissionDenied):
    """The active script cannot be deleted (RFC 5804 section 2.10: ``NO (ACTIVE)``)."""


def check_name(name: str) -> str:
    """A script name as RFC 5804 section 1.6 allows it (Net-Unicode, NFC), or UsageError."""
    if not name:
        raise UsageError("a script name is at least one character long")
    if len(name) > MAX_NAME_CHARS:
        raise UsageError(f"a script name is at most {MAX_NAME_CHARS} characters long")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in name):
        raise UsageError("a script name has no control characters or line separators")
    if unicodedata.normalize("NFC", name) != name:
        raise UsageError("a script name is Unicode in normalisation form C (RFC 5198)")
    return name


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class ScriptSet:
    """One account's scripts and which one is active (None: implicit keep only)."""

    scripts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    active: str | None = None

    @property
    def active_text(self) -> str | None:
        return None if self.active is None else self.scripts[self.active]

    def names(self) -> list[str]:
        return sorted(self.scripts)

    def get(self, name: str) -> str:
        try:
            return self.scripts[name]
        except KeyError:
            raise NotFound(f"there is no script named {name!r}") from None

    def check_space(self, name: str, size: int, limit: int = DEFAULT_LIMITS.script_bytes) -> None:
        """Would a script of ``size`` octets named ``name`` fit? (HAVESPACE, RFC 5804 2.5)."""
        check_name(name)
        if size > limit:
            raise QuotaExceeded(f"a script is at most {limit} octets", "QUOTA/MAXSIZE")
        if name not in self.scripts and len(self.scripts) >= MAX_SCRIPTS:
            raise QuotaExceeded(f"an account has at most {MAX_SCRIPTS} scripts", "QUOTA/MAXSCRIPTS")
        others = sum(_size(text) for other, text in self.scripts.items() if other != name)
        if others + size > MAX_TOTAL_BYTES:
            raise QuotaExceeded(f"an account's scripts take at most {MAX_TOTAL_BYTES} octets together", "QUOTA")

    def put(self, name: str, text: str) -> ScriptSet:
        """Add or replace a script (the caller has compiled it: only valid scripts are stored)."""
        self.check_space(name, _size(text))
        return replace(self, scripts=MappingProxyType({**self.scripts, name: text}))

    def delete(self, name: str) -> ScriptSet:
        """RFC 5804 section 2.10: the active script cannot be deleted (NO (ACTIVE))."""
        self.get(name)
        if name == self.active:
            raise ScriptActive(f"script {name!r} is active: deactivate it first")
        return replace(self, scripts=MappingProxyType({k: v for k, v in self.scripts.items() if k != name}))

    def rename(self, old: str, new: str) -> ScriptSet:
        """RFC 5804 section 2.11.1: the active script stays active under its new name."""
        self.get(old)
        check_name(new)
        if new == old:
            return self
        if new in self.scripts:
            raise Exists(f"a script named {new!r} exists already")
        scripts = {(new if k == old else k): v for k, v in self.scripts.items()}
        return ScriptSet(MappingProxyType(scripts), new if self.active == old else self.active)

    def activate(self, name: str | None) -> ScriptSet:
        """SETACTIVE (RFC 5804 section 2.8); None (or "") deactivates."""
        if name:
            self.get(name)
        return replace(self, active=name or None)

    def to_json(self) -> dict[str, Any]:
        return {"scripts": dict(self.scripts), "active": self.active}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ScriptSet:
        scripts, active = value.get("scripts"), value.get("active")
        if not isinstance(scripts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in scripts.items()
        ):
            raise Corrupt(f"{_WHAT}: scripts must map names to texts")
        if active is not None and (not isinstance(active, str) or active not in scripts):
            raise Corrupt(f"{_WHAT}: the active script is not in the set")
        return cls(MappingProxyType(dict(scripts)), active)


def seal_payload(record: AccountRecord, scripts: ScriptSet) -> bytes:
    """A SIEVE_SCRIPT payload: the set sealed to each accept and client device."""
    if record.device_list is None:
        raise Corrupt("the account has no device list: nobody to seal its scripts to")
    return seal_to_devices(record.device_list, scripts.to_json())


def open_payload(payload: bytes, store: Store) -> ScriptSet:
    """This node's copy of a SIEVE_SCRIPT payload (PermissionDenied if it has none)."""
    return ScriptSet.from_json(open_own_copy(payload, store.node, _WHAT))


@dataclass(frozen=True)
class Current:
    """The winning SIEVE_SCRIPT operation of an account as of ``heads``.

    ``stamp`` is None when the account has no script operation (no scripts, keep).
    """

    heads: Mapping[str, tuple[int, int]]
    stamp: Stamp | None = None
    payload: bytes = b""


def _best(conn: Connection, account_id: bytes, origin: str, after: int) -> Stamp | None:
    """The highest stamp of one origin's script operations with a seq above ``after`` (a
    primary-key range: only the operations stored since the last look; stamps only, the
    payloads of sets that lost are never read)."""
    o = t.ops.c
    rows = conn.execute(
        select(o.hlc, o.seq).where(
            o.origin == origin, o.account_id == account_id, o.seq > after, o.kind == int(OpKind.SIEVE_SCRIPT)
        )
    ).all()
    return max(((int(r.hlc), origin, int(r.seq)) for r in rows), default=None)


def _payload(conn: Connection, account_id: bytes, stamp: Stamp) -> bytes:
    o = t.ops.c
    return bytes(conn.execute(
        select(o.payload).where(o.origin == stamp[1], o.account_id == account_id, o.seq == stamp[2])
    ).scalar_one())


class ScriptSets:
    """Reads accounts' current script sets, remembering each winner between reads.

    Thread-safe: entries are replaced whole, and an entry is always one consistent
    snapshot (heads and winner read in one transaction), so a stale entry costs one more
    incremental look, never a wrong answer.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._current: dict[bytes, Current] = {}
        self._lock = threading.Lock()

    def current(self, account_id: bytes, conn: Connection | None = None) -> Current:
        """The winner now (blocking: call it off the event loop)."""
        if conn is None:
            with read_transaction(self.store.engine) as reading:
                return self.current(account_id, reading)
        with self._lock:
            known = self._current.get(account_id, Current({}))
        heads = op_heads.heads(conn, account_id)
        if heads == known.heads:
            return known
        if any(heads.get(origin, (0, 0))[0] < count for origin, (count, _) in known.heads.items()):
            known = Current({})  # fewer operations than before: the account was removed and re-added
        best = known.stamp
        for origin, (count, highest) in heads.items():
            old_count, old_highest = known.heads.get(origin, (0, 0))
            if (count, highest) == (old_count, old_highest):
                continue
            # Gap-free before (count == highest): every new seq is above the old highest, so
            # look at those only; after out-of-order arrivals, at the origin's every seq.
            found = _best(conn, account_id, origin, old_highest if old_count == old_highest else 0)
            if found is not None and (best is None or found > best):
                best = found
        if best is None:
            fresh = Current(MappingProxyType(dict(heads)))
        else:
            payload = known.payload if best == known.stamp else _payload(conn, account_id, best)
            fresh = Current(MappingProxyType(dict(heads)), best, payload)
        with self._lock:
            self._current[account_id] = fresh
        return fresh

    def read(self, account_id: bytes, conn: Connection | None = None) -> ScriptSet:
        """The account's script set as this node sees it (empty when it has none)."""
        now = self.current(account_id, conn)
        return ScriptSet() if now.stamp is None else open_payload(now.payload, self.store)

    def forget(self, account_id: bytes) -> None:
        with self._lock:
            self._current.pop(account_id, None)


def _client_record(store: Store, account_id: bytes) -> AccountRecord:
    record = store.account(account_id)
    devices = record.device_list
    me = devices.find(store.node.node_id) if devices is not None else None
    if me is None or me.role is not DeviceRole.CLIENT:
        raise PermissionDenied("scripts are changed on a client node of the account (this node is not one)")
    return record


def _lock(conn: Connection, account_id: bytes) -> None:
    """Serialise script edits of one account: SQLite's write transaction holds the database
    lock from BEGIN already; PostgreSQL locks the account's row (read-modify-write)."""
    conn.execute(select(t.accounts.c.account_id).where(t.accounts.c.account_id == account_id).with_for_update())


def edit(sets: ScriptSets, account_id: bytes,
         change: Callable[[ScriptSet], ScriptSet]) -> tuple[ScriptSet, Operation | None]:
    """Apply ``change`` (a function ScriptSet -> ScriptSet) to the account's current set and
    originate the result, in one write transaction, so two editors never lose each
    other's change on this node. Returns the new set and its operation (None when
    ``change`` changed nothing). Only a client device of the account may edit."""
    store = sets.store
    record = _client_record(store, account_id)
    with write_transaction(store.engine) as conn:
        _lock(conn, account_id)
        before = sets.read(account_id, conn)
        after = change(before)
        if after == before:
            return before, None
        [op] = store.originate_in(conn, account_id, [(OpKind.SIEVE_SCRIPT, b"", seal_payload(record, after))])
    sets.forget(account_id)
    return after, op


def republish(sets: ScriptSets, account_id: bytes) -> Operation | None:
    """Seal the current set again to today's device list (after a device joins), if any."""
    record = _client_record(sets.store, account_id)
    with write_transaction(sets.store.engine) as conn:
        _lock(conn, account_id)
        if sets.current(account_id, conn).stamp is None:
            return None
        current = sets.read(account_id, conn)
        [op] = sets.store.originate_in(conn, account_id, [(OpKind.SIEVE_SCRIPT, b"", seal_payload(record, current))])
    sets.forget(account_id)
    return op
