"""The state of one script run: variables, match variables, flags, the actions so far.

Everything a run changes lives in one :class:`Run`, made fresh per message, so a
:class:`~mesyx.sieve.validate.CompiledScript` is immutable and may be shared (its
``cache`` holds only what depends on the script: prepared matchers).

Runtime problems raise :class:`~mesyx.errors.UsageError` (a bad argument found only now)
or :class:`~mesyx.errors.LimitExceeded` (a bound of :class:`~mesyx.sieve.limits.Limits`);
:func:`mesyx.sieve.interpret.evaluate` turns either into the implicit keep and an error
line (RFC 5228 section 2.10.6).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, TypeVar

from mesyx.errors import LimitExceeded, UsageError
from mesyx.sieve.actions import Action, Discard, FileInto, Keep, Redirect, Reject, Vacation
from mesyx.sieve.ast import Call
from mesyx.sieve.compare import Matcher
from mesyx.sieve.environment import Environment, SieveEnvelope
from mesyx.sieve.limits import Limits
from mesyx.sieve.message import SieveMessage
from mesyx.sieve.validate import CompiledScript

__all__ = ["Run", "Stop", "split_flags", "pick"]

T = TypeVar("T")
KeyShape = Callable[[tuple[str, ...]], tuple[str, ...]]

#: ``${name}``, ``${a.b}`` (namespaces, RFC 5229 section 3) and ``${0}``..``${9}`` (match variables).
_REFERENCE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[0-9]+)\}")
_VARIABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Match types that set match variables (RFC 5229 section 3.2 and the regex draft).
CAPTURING: Final = frozenset({"matches", "regex"})


class Stop(Exception):
    """``stop`` (RFC 5228 section 3.3): end the script here; not an error."""


def split_flags(values: tuple[str, ...] | list[str]) -> list[str]:
    """A flag list as RFC 5232 section 3 reads it: space-separated names, duplicates dropped (case-insensitive)."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        for flag in value.split():
            key = flag.lower()
            if key not in seen:
                seen.add(key)
                out.append(flag)
    return out


def pick(call: Call, values: tuple[T, ...]) -> tuple[T, ...]:
    """The ``:index`` occurrence (from the end with ``:last``), or all (RFC 5260 section 6)."""
    index = call.tags.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        return values
    position = len(values) - index if call.tags.get("last") else index - 1
    return (values[position],) if 0 <= position < len(values) else ()


class Run:
    """One run of a script on one message."""

    __slots__ = (
        "script",
        "message",
        "envelope",
        "environment",
        "limits",
        "expand_variables",
        "variables",
        "match",
        "flags",
        "actions",
        "implicit_keep",
        "steps",
        "redirects",
        "notes",
    )

    def __init__(
        self,
        script: CompiledScript,
        message: SieveMessage,
        envelope: SieveEnvelope,
        environment: Environment,
        limits: Limits,
    ) -> None:
        self.script = script
        self.message = message
        self.envelope = envelope
        self.environment = environment
        self.limits = limits
        self.expand_variables = "variables" in script.requires
        self.variables: dict[str, str] = {}
        self.match: tuple[str, ...] = ()
        #: The internal flag variable of imap4flags (RFC 5232 section 3).
        self.flags: list[str] = []
        self.actions: list[Action] = []
        self.implicit_keep = True
        self.steps = 0
        self.redirects = 0
        #: What the run decided not to do, and why (vacation's checks), for logs and ``sieve test``.
        self.notes: list[str] = []

    # -- work bound ---------------------------------------------------------------------

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise LimitExceeded(f"more than {self.limits.steps} commands and tests evaluated")

    # -- variables (RFC 5229) -------------------------------------------------------------

    def expand(self, text: str) -> str:
        """``text`` with ``${...}`` references replaced (section 3: unknown ones become empty)."""
        if not self.expand_variables or "${" not in text:
            return text
        return _REFERENCE.sub(self._reference, text)

    def _reference(self, m: re.Match[str]) -> str:
        name = m.group(1)
        if name[0].isdigit():
            index = int(name)
            return self.match[index] if index < len(self.match) else ""
        return self.variables.get(name.lower(), "")

    def expand_all(self, values: tuple[str, ...] | str | int) -> tuple[str, ...]:
        if isinstance(values, int):
            return (str(values),)
        if isinstance(values, str):
            return (self.expand(values),)
        if not self.expand_variables:
            return values
        if len(values) == 1:
            return values if "${" not in values[0] else (self.expand(values[0]),)
        return tuple(self.expand(v) for v in values)

    def set_variable(self, name: str, value: str) -> None:
        """Assign a variable (section 4); the value is cut to :attr:`Limits.variable_size`."""
        if not _VARIABLE_NAME.fullmatch(name):
            raise UsageError(f'"{name}" is not a variable name that can be set')
        key = name.lower()
        if key not in self.variables and len(self.variables) >= self.limits.variables:
            raise LimitExceeded(f"more than {self.limits.variables} variables")
        self.variables[key] = value[: self.limits.variable_size]

    # -- matching ---------------------------------------------------------------------

    def matcher(self, call: Call, keys: tuple[str, ...] | str | int, reshape: KeyShape | None = None) -> Matcher:
        """The call's matcher: prepared once per script when its keys hold no variable.

        ``reshape`` turns the expanded keys into the ones compared (hasflag splits flag lists).
        """
        cached = self.script.cache.get(id(call))
        if cached is not None:  # only constant matchers are cached
            return cached  # type: ignore[return-value]
        raw_keys = keys if isinstance(keys, tuple) else (str(keys),)
        relation = call.tags.get("relation")
        constant = not self.expand_variables or not any("${" in k for k in (*raw_keys, str(relation or "")))
        expanded_relation = self.expand(str(relation)).lower() if relation is not None else None
        if expanded_relation is not None and expanded_relation not in ("gt", "ge", "lt", "le", "eq", "ne"):
            raise UsageError(f'"{expanded_relation}" is not a relational operator')
        matcher = Matcher(
            str(call.tags.get("match", "is")),
            str(call.tags.get("comparator", "i;ascii-casemap")),
            reshape(self.expand_all(raw_keys)) if reshape else self.expand_all(raw_keys),
            expanded_relation,
            self.limits.regex_size,
        )
        if constant:
            self.script.cache[id(call)] = matcher
        return matcher

    def test(
        self,
        call: Call,
        values: list[str] | tuple[str, ...],
        keys: tuple[str, ...] | str | int,
        reshape: KeyShape | None = None,
        capture: bool = True,
    ) -> bool:
        """Do ``values`` match ``keys`` the way ``call`` says? ``:count`` counts ``values``."""
        cached = self.script.cache.get(id(call))  # the constant matchers, as matcher() keeps them
        matcher = cached if isinstance(cached, Matcher) else self.matcher(call, keys, reshape)
        if matcher.kind == "count":
            return matcher.search((str(len(values)),)) is not None
        found = matcher.search(values)
        if found is None:
            return False
        if capture and matcher.kind in CAPTURING and self.expand_variables:
            self.match = tuple(v[: self.limits.variable_size] for v in found)
        return True

    # -- actions (RFC 5228 section 2.10) --------------------------------------------------

    def add(self, action: Action) -> bool:
        """Record an action: duplicates collapse (section 2.10.3), conflicts are errors (RFC 5429 section 2.2).

        False when the action was one already taken: then it does not cancel the implicit
        keep either (``fileinto :copy "X"; fileinto "X";`` keeps, as Pigeonhole does).
        """
        actions = self.actions
        rejecting = any(isinstance(a, Reject) for a in actions)
        if isinstance(action, Reject):
            if rejecting:
                raise UsageError("reject or ereject used twice")
            if any(isinstance(a, (Keep, FileInto, Redirect, Vacation)) for a in actions):
                raise UsageError("reject cannot be combined with keep, fileinto, redirect or vacation")
        elif rejecting and isinstance(action, (Keep, FileInto, Redirect, Vacation)):
            raise UsageError("reject cannot be combined with keep, fileinto, redirect or vacation")
        if isinstance(action, Vacation) and any(isinstance(a, Vacation) for a in actions):
            raise UsageError("vacation used twice")
        if isinstance(action, (Keep, FileInto)):
            target = _target(action)
            for i, earlier in enumerate(actions):
                if isinstance(earlier, (Keep, FileInto)) and _target(earlier) == target:
                    actions[i] = _merged(earlier, action)
                    return False
        elif isinstance(action, Redirect):
            wanted = action.address.lower()
            if any(isinstance(a, Redirect) and a.address.lower() == wanted for a in actions):
                return False
            self.redirects += 1
            if self.redirects > self.limits.redirects:
                raise LimitExceeded(f"more than {self.limits.redirects} redirects")
        elif isinstance(action, Discard) and any(isinstance(a, Discard) for a in actions):
            return False
        if len(actions) >= self.limits.actions:
            raise LimitExceeded(f"more than {self.limits.actions} actions")
        actions.append(action)
        return True


def _target(action: Keep | FileInto) -> str:
    """Where a store action puts the message; INBOX's name is case-insensitive (RFC 3501 section 5.1)."""
    if isinstance(action, Keep):
        return "INBOX"
    return "INBOX" if action.mailbox.upper() == "INBOX" else action.mailbox


def _merged(earlier: Keep | FileInto, later: Keep | FileInto) -> Keep | FileInto:
    """Two stores into one mailbox are one store, with the later one's flags (as Pigeonhole does)."""
    flags = later.flags
    if isinstance(earlier, Keep):
        return Keep(flags, implicit=False)
    copy = earlier.copy and (isinstance(later, FileInto) and later.copy)
    create = earlier.create or (isinstance(later, FileInto) and later.create)
    return FileInto(earlier.mailbox, flags, copy, create)
