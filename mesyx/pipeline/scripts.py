"""The accept side's view of accounts' active SIEVE scripts, compiled and cached.

Every inbound message asks for its account's active script (DESIGN.md, the accept
pipeline), so the answer comes from memory: each account's compiled script is kept with
the stamp of the SIEVE_SCRIPT operation it came from. After :attr:`ActiveScripts.ttl`
seconds an entry is checked again in a worker thread, which costs a look at the
account's operation heads and at the operations stored since
(:class:`mesyx.store.sieve_scripts.ScriptSets`); only a new winning operation is opened
and compiled. A timer rather than the store's change events: a script put with
``mesyx sieve put`` comes from another process, whose commits publish no event here,
and replicated operations would come through either way. So a change takes effect
within ``ttl`` seconds, on every path alike.

An active script that no longer compiles (written by a newer Mesyx that knows more
extensions, or corrupt) or that this node cannot open (sealed before it joined the
device list) counts as no script, the implicit keep (RFC 5228 section 2.10.2): a bad
script never loses or blocks a message. It is logged once per operation, not per
message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from mesyx.errors import MesyxError, ScriptError
from mesyx.log import get_logger
from mesyx.sieve import CompiledScript, compile_script
from mesyx.sieve.limits import DEFAULT_LIMITS, Limits
from mesyx.store.fold import Stamp
from mesyx.store.sieve_scripts import ScriptSets, open_payload
from mesyx.store.store import Store

__all__ = ["ActiveScripts"]

_log = get_logger("sieve")


@dataclass(frozen=True)
class _Entry:
    checked_at: float
    stamp: Stamp | None
    script: CompiledScript | None


class ActiveScripts:
    """``await active(account_id)``: the account's active script compiled, or None (keep)."""

    def __init__(self, store: Store, *, ttl: float = 2.0, limits: Limits = DEFAULT_LIMITS) -> None:
        self.sets = ScriptSets(store)
        self.ttl = ttl
        self.limits = limits
        self._entries: dict[bytes, _Entry] = {}

    async def active(self, account_id: bytes) -> CompiledScript | None:
        entry = self._entries.get(account_id)
        if entry is not None and time.monotonic() - entry.checked_at < self.ttl:
            return entry.script
        return await asyncio.to_thread(self.load, account_id)

    def load(self, account_id: bytes) -> CompiledScript | None:
        """Check the store and refresh the account's entry (blocking: a worker thread)."""
        current = self.sets.current(account_id)
        entry = self._entries.get(account_id)
        if entry is not None and entry.stamp == current.stamp:
            self._entries[account_id] = _Entry(time.monotonic(), entry.stamp, entry.script)
            return entry.script
        script = None if current.stamp is None else self._compile(account_id, current.stamp, current.payload)
        self._entries[account_id] = _Entry(time.monotonic(), current.stamp, script)
        return script

    def _compile(self, account_id: bytes, stamp: Stamp, payload: bytes) -> CompiledScript | None:
        origin, seq = stamp[1], stamp[2]
        try:
            text = open_payload(payload, self.sets.store).active_text
            return None if text is None else compile_script(text, self.limits)
        except ScriptError as exc:
            _log.warning("active_script_refused", account=account_id.hex(), origin=origin, seq=seq,
                         line=exc.line, column=exc.column, reason=exc.message[:200])
        except MesyxError as exc:  # no copy for this node, or a payload that does not open
            _log.warning("active_script_unreadable", account=account_id.hex(), origin=origin, seq=seq,
                         kind=exc.kind, reason=exc.message[:200])
        return None
