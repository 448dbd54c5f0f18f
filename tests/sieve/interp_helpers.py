"""Run a script text on a message text for the interpreter's tests."""

from __future__ import annotations

import datetime

from mesyx.sieve import compile_script
from mesyx.sieve.actions import Outcome
from mesyx.sieve.environment import Environment, SieveEnvelope
from mesyx.sieve.interpret import evaluate
from mesyx.sieve.limits import DEFAULT_LIMITS, Limits
from mesyx.sieve.message import SieveMessage

NOW = datetime.datetime(2026, 11, 23, 17, 30, 5, tzinfo=datetime.UTC)

PLAIN = (
    "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n"
    "From: coyote@desert.example.org\r\n"
    "To: roadrunner@acme.example.com\r\n"
    "Subject: I have a present for you\r\n"
    "X-Caffeine: C8H10N4O2\r\n"
    "\r\n"
    "Look, I'm sorry about the whole anvil thing, and I really\r\n"
    "didn't mean to try and drop it on you from the top of the\r\n"
    "cliff.  I want to try to make it up to you.\r\n"
)


def run(
    script: str,
    message: str | bytes = PLAIN,
    *,
    mail_from: str = "coyote@desert.example.org",
    rcpt_to: str = "roadrunner@acme.example.com",
    environment: Environment | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Outcome:
    raw = message.encode("utf-8") if isinstance(message, str) else message
    env = environment or Environment(hostname="mx.example", now=NOW, addresses=(rcpt_to,))
    return evaluate(compile_script(script), SieveMessage.parse(raw), SieveEnvelope(mail_from, rcpt_to), env, limits)


def lines(script: str, message: str | bytes = PLAIN, **kwargs: object) -> list[str]:
    """The rendered actions; a runtime error shows as ``error: <reason>``."""
    outcome = run(script, message, **kwargs)  # type: ignore[arg-type]
    if outcome.error is not None:
        return [f"error: {outcome.error}"]
    return outcome.render()
