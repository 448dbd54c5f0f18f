"""Run a compiled SIEVE script on one message: :func:`evaluate` returns the actions.

The validator has checked everything that can be known before a message arrives, so this
walks :class:`~mesyx.sieve.ast.Call` nodes and does what they say, in order (RFC 5228
section 2.10). Tests live in :mod:`mesyx.sieve.run_tests` (dates in
:mod:`~mesyx.sieve.run_date`), vacation's checks in :mod:`~mesyx.sieve.run_vacation`, the
run's state and the action list's rules (duplicates, conflicts, limits) in
:mod:`~mesyx.sieve.run_state`.

Implicit keep (section 2.10.2): it is cancelled by ``discard``, ``reject``/``ereject``,
``fileinto`` and ``redirect`` without ``:copy`` (RFC 3894) and by ``keep`` (which does it
explicitly); at the end it files into INBOX with the internal flag variable's flags (RFC
5232 section 5). A runtime error (section 2.10.6: a limit, a conflict between actions, a
bad argument that only a variable's value shows) throws away every action and keeps the
message in INBOX: a bad script never loses a message. :func:`evaluate` never raises.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Final

from mesyx.errors import MesyxError, UsageError
from mesyx.log import get_logger, new_error_id
from mesyx.sieve.actions import Discard, FileInto, Keep, Outcome, Redirect, Reject
from mesyx.sieve.ast import Call
from mesyx.sieve.compare import ascii_fold
from mesyx.sieve.environment import Environment, SieveEnvelope
from mesyx.sieve.limits import DEFAULT_LIMITS, Limits
from mesyx.sieve.message import SieveMessage
from mesyx.sieve.redirect import redirect_address
from mesyx.sieve.run_state import Run, Stop, split_flags
from mesyx.sieve.run_tests import run_test
from mesyx.sieve.run_vacation import vacation
from mesyx.sieve.validate import CompiledScript

__all__ = ["evaluate"]

_log = get_logger("sieve")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_WILDCARDS: Final = re.compile(r"([*?\\])")
_REGEX_SPECIALS: Final = re.compile(r"([\\.+*?\[\]^$(){}|])")
_ASCII_UPPER: Final = {c: c - 32 for c in range(0x61, 0x7B)}


def evaluate(
    script: CompiledScript,
    message: SieveMessage,
    envelope: SieveEnvelope,
    environment: Environment | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Outcome:
    """The actions ``script`` takes for ``message``; see the module doc."""
    run = Run(script, message, envelope, environment or Environment(), limits)
    try:
        with contextlib.suppress(Stop):
            _block(run, script.calls)
        _finish(run)
    except MesyxError as exc:
        # One line, whatever a variable put into the message (Outcome.error is logged as is).
        error = _CONTROL.sub("?", exc.message)[:300]
        return Outcome((Keep(implicit=True),), error=error, steps=run.steps)
    except Exception as exc:  # noqa: BLE001 - a bug here must not lose the message (issue 5, safety)
        error_id = new_error_id()
        _log.exception("interpreter_failed", error_id=error_id, error=type(exc).__name__)
        return Outcome((Keep(implicit=True),), error=f"internal error {error_id}", steps=run.steps)
    return Outcome(tuple(run.actions), steps=run.steps, notes=tuple(run.notes))


def _finish(run: Run) -> None:
    if not run.implicit_keep:
        return
    if any(isinstance(a, Keep) or (isinstance(a, FileInto) and a.mailbox.upper() == "INBOX") for a in run.actions):
        return
    run.actions.append(Keep(tuple(run.flags), implicit=True))


def _block(run: Run, calls: tuple[Call, ...]) -> None:
    for call in calls:
        run.step()
        COMMANDS[call.name](run, call)


def _if(run: Run, call: Call) -> None:
    """``if`` / ``elsif`` / ``else`` (RFC 5228 section 3.1), folded into one chain by the validator."""
    branch: Call | None = call
    while branch is not None:
        if branch.name == "else" or run_test(run, branch.tests[0]):
            _block(run, branch.block)
            return
        branch = branch.orelse


def _stop(run: Run, call: Call) -> None:
    raise Stop


def _string_arg(run: Run, call: Call, index: int = 0) -> str:
    return run.expand(str(call.positional[index]))


def _flags_of(run: Run, call: Call) -> tuple[str, ...]:
    """``:flags`` if given, else the internal variable now (RFC 5232 section 5)."""
    flags = call.tags.get("flags")
    if isinstance(flags, tuple):
        return tuple(split_flags(list(run.expand_all(flags))))
    return tuple(run.flags)


def _keep(run: Run, call: Call) -> None:
    run.add(Keep(_flags_of(run, call)))
    run.implicit_keep = False


def _discard(run: Run, call: Call) -> None:
    run.add(Discard())
    run.implicit_keep = False


def _fileinto(run: Run, call: Call) -> None:
    mailbox = _string_arg(run, call)
    if not mailbox:
        raise UsageError(f"fileinto: {mailbox!r} is not a mailbox name")
    copy = bool(call.tags.get("copy"))
    if run.add(FileInto(mailbox, _flags_of(run, call), copy, bool(call.tags.get("create")))) and not copy:
        run.implicit_keep = False


def _redirect(run: Run, call: Call) -> None:
    text = _string_arg(run, call)
    address = redirect_address(text)
    if address is None:
        raise UsageError(f'redirect: "{text.strip()}" is not a valid address')
    copy = bool(call.tags.get("copy"))
    if run.add(Redirect(address, copy)) and not copy:
        run.implicit_keep = False


def _reject(run: Run, call: Call) -> None:
    run.add(Reject(_string_arg(run, call), extended=call.name == "ereject"))
    run.implicit_keep = False


def _flag_command(run: Run, call: Call) -> None:
    """``setflag`` / ``addflag`` / ``removeflag`` (RFC 5232 section 3), on a variable or the internal one."""
    if len(call.positional) == 2:
        name = run.expand(str(call.positional[0]))
        current = split_flags([run.variables.get(name.lower(), "")])
    else:
        name = None
        current = run.flags
    given = split_flags(list(run.expand_all(call.positional[-1])))
    if call.name == "setflag":
        result = given
    elif call.name == "addflag":
        result = split_flags(current + given)
    else:
        drop = {f.lower() for f in given}
        result = [f for f in current if f.lower() not in drop]
    if name is None:
        run.flags = result
    else:
        run.set_variable(name, " ".join(result))


def _set(run: Run, call: Call) -> None:
    """``set`` with its modifiers in precedence order (RFC 5229 section 4.1)."""
    tags = call.tags
    value = _string_arg(run, call, 1)
    # Case changes touch ASCII letters only, as Pigeonhole's do ("café" :upper is "CAFé").
    if tags.get("lower"):
        value = ascii_fold(value)
    elif tags.get("upper"):
        value = _ascii_upper(value)
    if tags.get("lowerfirst"):
        value = ascii_fold(value[:1]) + value[1:]
    elif tags.get("upperfirst"):
        value = _ascii_upper(value[:1]) + value[1:]
    if tags.get("quotewildcard"):
        value = _WILDCARDS.sub(r"\\\1", value)
    elif tags.get("quoteregex"):
        value = _REGEX_SPECIALS.sub(r"\\\1", value)
    if tags.get("length"):
        value = str(len(value))
    run.set_variable(run.expand(str(call.positional[0])), value)


def _ascii_upper(text: str) -> str:
    return text.upper() if text.isascii() else text.translate(_ASCII_UPPER)


COMMANDS: dict[str, Callable[[Run, Call], None]] = {
    "if": _if,
    "stop": _stop,
    "keep": _keep,
    "discard": _discard,
    "fileinto": _fileinto,
    "redirect": _redirect,
    "reject": _reject,
    "ereject": _reject,
    "setflag": _flag_command,
    "addflag": _flag_command,
    "removeflag": _flag_command,
    "set": _set,
    "vacation": vacation,
}
