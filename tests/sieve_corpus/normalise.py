"""One normal form for what Pigeonhole and Mesyx decide, so the two can be compared.

Both sides become a list of lines in Mesyx's action syntax (mesyx/sieve/actions.py
``render()``), in execution order, the implicit keep last: ``keep``, ``fileinto "X"
:flags "\\\\Seen"``, ``redirect "a@b"``, ``discard``, ``reject "why"``, ``ereject "why"``,
``vacation "to" :subject "s" "reason"``; or the single line ``error: compile`` (the
script does not compile) or ``error: runtime`` (it compiled but the run failed, so the
message got the implicit keep alone, RFC 5228 section 2.10.6).

The rules, applied to both sides by :func:`normalise` (README.md explains why):

1. A store into ``INBOX`` (any case) is ``keep``: Pigeonhole prints an explicit keep,
   the implicit keep and ``fileinto "INBOX"`` all as "store message in folder: INBOX".
2. Flags are a set (RFC 5232 section 3): split on spaces, system flags (``\\Seen``...)
   compared case-insensitively and written in RFC 3501's capitalisation (Pigeonhole
   lower-cases them), duplicates dropped, sorted.
3. A redirect's address is the part inside ``<...>`` when there is one.
4. Mailbox names, addresses and reject reasons are shown as sieve-test shows them
   (Dovecot's ``str_sanitize(s, 128)``): line ends made CRLF, every character below
   U+0020 written as ``?``, and a string over 128 bytes cut to 125 bytes plus ``...``.
   So a ``text:`` reason's line ends and a long reason's tail are not compared.
5. A vacation reason has its line ends made LF and trailing white space removed.
6. Identical lines after these rules are one (RFC 5228 section 2.10.3: a message is
   not stored twice in one mailbox; Pigeonhole merges such actions).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mesyx.sieve.actions import Discard, FileInto, Keep, Outcome, Redirect, Reject, Vacation, quote

__all__ = [
    "COMPILE_ERROR",
    "RUNTIME_ERROR",
    "Step",
    "Run",
    "normalise",
    "from_mesyx",
    "from_pigeonhole",
    "PigeonholeOutputError",
]

COMPILE_ERROR = "error: compile"
RUNTIME_ERROR = "error: runtime"

_SYSTEM_FLAGS = {f.lower(): f for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent")}
_CONTROL = re.compile(r"[\x00-\x1f]")
_SHOWN_BYTES = 128


@dataclass(frozen=True)
class Step:
    """One action before normalisation: a verb, its string arguments, its flags."""

    verb: str
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


def _flags(flags: Iterable[str]) -> tuple[str, ...]:
    names = {_SYSTEM_FLAGS.get(flag.lower(), flag) for value in flags for flag in value.split()}
    return tuple(sorted(names, key=lambda flag: (flag.casefold(), flag)))


def _flag_text(flags: tuple[str, ...]) -> str:
    if not flags:
        return ""
    if len(flags) == 1:
        return " :flags " + quote(flags[0])
    return " :flags [" + ", ".join(quote(flag) for flag in flags) + "]"


def _shown(text: str) -> str:
    """A string as sieve-test prints it (Dovecot's str_sanitize with 128 bytes)."""
    text = _CONTROL.sub("?", text.replace("\r\n", "\n").replace("\n", "\r\n"))
    raw = text.encode("utf-8")
    if len(raw) <= _SHOWN_BYTES:
        return text
    return raw[: _SHOWN_BYTES - 3].decode("utf-8", "ignore") + "..."


def _line(step: Step) -> str:
    verb, args = step.verb, step.args
    if verb == "fileinto" and args[0].upper() == "INBOX":
        verb, args = "keep", ()
    if verb == "keep":
        return "keep" + _flag_text(_flags(step.flags))
    if verb == "fileinto":
        return f"fileinto {quote(_shown(args[0]))}" + _flag_text(_flags(step.flags))
    if verb == "redirect":
        inner = re.search(r"<([^<>]*)>", args[0])
        return f"redirect {quote(_shown(inner.group(1) if inner else args[0].strip()))}"
    if verb == "discard":
        return "discard"
    if verb in ("reject", "ereject"):
        return f"{verb} {quote(_shown(args[0]))}"
    if verb == "vacation":
        recipient, subject, reason = args
        reason = reason.replace("\r\n", "\n").rstrip()
        return f"vacation {quote(recipient)} :subject {quote(subject)} {quote(reason)}"
    raise ValueError(f"unknown action {verb!r}")


def normalise(steps: Iterable[Step]) -> tuple[str, ...]:
    """The normal form of a list of actions (the rules in the module docstring)."""
    lines: list[str] = []
    for step in steps:
        line = _line(step)
        if line not in lines:
            lines.append(line)
    return tuple(lines)


def from_mesyx(outcome: Outcome) -> tuple[str, ...]:
    """Mesyx's answer: its actions normalised, or ``error: runtime`` if the run failed."""
    if outcome.error is not None:
        return (RUNTIME_ERROR,)
    steps: list[Step] = []
    for action in outcome.actions:
        if isinstance(action, Keep):
            steps.append(Step("keep", (), action.flags))
        elif isinstance(action, FileInto):
            steps.append(Step("fileinto", (action.mailbox,), action.flags))
        elif isinstance(action, Redirect):
            steps.append(Step("redirect", (action.address,)))
        elif isinstance(action, Discard):
            steps.append(Step("discard"))
        elif isinstance(action, Reject):
            steps.append(Step("ereject" if action.extended else "reject", (action.reason,)))
        elif isinstance(action, Vacation):
            steps.append(Step("vacation", (action.recipient, action.subject, action.reason)))
    return normalise(steps)


# -- Pigeonhole's side --------------------------------------------------------------------


class PigeonholeOutputError(Exception):
    """sieve-test printed something this parser does not know: fix the parser, not the case."""


@dataclass(frozen=True)
class Run:
    """One sieve-test run: exit code and both streams."""

    returncode: int
    stdout: str
    stderr: str


_ERROR_LINE = re.compile(r"(?:^|: )(?:line \d+: )?error: ", re.MULTILINE)


def _error_detail(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if _ERROR_LINE.search(line)]
    return "\n".join(lines)


def _parse_report(stdout: str) -> list[Step]:
    """The "Performed actions" and "Implicit keep" sections of sieve-test without -e."""
    steps: list[Step] = []
    lines = stdout.splitlines()
    index = 0
    vacation: int | None = None
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith(" * "):
            text = line[3:]
            if text.startswith("store message in folder: "):
                steps.append(Step("fileinto", (text.removeprefix("store message in folder: "),)))
            elif text.startswith("redirect message to: "):
                steps.append(Step("redirect", (text.removeprefix("redirect message to: "),)))
            elif text == "discard":
                steps.append(Step("discard"))
            elif text.startswith("reject message with reason: "):
                steps.append(Step("reject", (text.removeprefix("reject message with reason: "),)))
            elif text == "send vacation message:":
                vacation = len(steps)
                steps.append(Step("vacation", ("", "", "")))
            else:
                raise PigeonholeOutputError(f"unknown action line {line!r}")
        elif line.startswith("        + "):
            detail = line.strip()[2:]
            if detail.startswith("add IMAP flags: "):
                last = steps[-1]
                steps[-1] = Step(last.verb, last.args, tuple(detail.removeprefix("add IMAP flags: ").split()))
            elif detail not in ("create mailbox if it does not exist", "preserve implicit keep"):
                raise PigeonholeOutputError(f"unknown action detail {line!r}")
        elif line == "START MESSAGE" and vacation is not None:
            end = lines.index("END MESSAGE", index)
            steps[vacation] = Step("vacation", ("", "", "\n".join(lines[index:end])))
            index = end + 1
    return steps


def _vacation_sent(executed: Run) -> tuple[str, str] | None:
    """Recipient and decoded subject of the reply sieve-test -e sent, or None if it chose not to."""
    sent = re.search(r"vacation action: sent vacation response to <([^>]*)>", executed.stderr)
    if sent is None:
        if re.search(r"vacation action: (discard|not sending)", executed.stderr):
            return None
        raise PigeonholeOutputError(f"sieve-test -e neither sent nor refused the vacation reply: {executed.stderr}")
    for block in re.split(r"(?m)^(?=X-Sieve: Pigeonhole)", executed.stdout):
        if "Auto-Submitted: auto-replied (vacation)" in block:
            reply = email.message_from_string(block, policy=email.policy.default)
            return sent.group(1), str(reply.get("Subject", ""))
    raise PigeonholeOutputError("sieve-test -e sent a vacation reply but did not print it")


def from_pigeonhole(plain: Run, executed: Run | None) -> tuple[tuple[str, ...], str]:
    """Pigeonhole's answer and its error detail, from sieve-test without and with ``-e``.

    ``plain`` lists the actions; ``executed`` (``-e``, needed only when the script
    vacations) tells whether the reply was really sent (RFC 5230 section 4.5's checks
    happen at execution) and with which recipient and subject.
    """
    if "failed to compile sieve script" in plain.stderr:
        return (COMPILE_ERROR,), _error_detail(plain.stderr)
    if "final result: failed" in plain.stderr or "final result: utter failure" in plain.stderr:
        return (RUNTIME_ERROR,), _error_detail(plain.stderr)
    if plain.returncode != 0 or "Performed actions:" not in plain.stdout:
        raise PigeonholeOutputError(f"sieve-test exited {plain.returncode}: {plain.stderr.strip()}")
    steps = _parse_report(plain.stdout)
    result: list[Step] = []
    for step in steps:
        if step.verb == "vacation":
            if executed is None:
                raise PigeonholeOutputError("a vacation action needs the sieve-test -e run")
            sent = _vacation_sent(executed)
            if sent is None:
                continue
            step = Step("vacation", (sent[0], sent[1], step.args[2]))
        result.append(step)
    return normalise(result), ""
