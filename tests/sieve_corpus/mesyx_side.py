"""Mesyx's answer to a corpus case, and the list of cases where it differs from Pigeonhole.

Run as a script it writes that list as Markdown (for the engineer working on the
interpreter)::

    .venv/bin/python tests/sieve_corpus/mesyx_side.py > disagreements.md

The environment agrees with the one sieve-test runs in (pigeonhole.py): the envelope
recipient is the account's own address, the mailboxes a case names exist (and INBOX),
the spam score is read from ``X-Spam-Score`` out of 10, and the time is now, in UTC.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mesyx.errors import ScriptError  # noqa: E402
from mesyx.sieve import compile_script  # noqa: E402
from mesyx.sieve.environment import Environment, SieveEnvelope  # noqa: E402
from mesyx.sieve.message import SieveMessage  # noqa: E402
from tests.sieve_corpus.corpus import Case, load_cases, load_expected, message_bytes  # noqa: E402
from tests.sieve_corpus.normalise import COMPILE_ERROR, from_mesyx  # noqa: E402

__all__ = ["mesyx_answer", "expected_answer", "disagreements"]


def mesyx_answer(case: Case) -> tuple[str, ...]:
    """Compile and run the case's script with Mesyx; the normalised answer."""
    from mesyx.sieve.interpret import evaluate

    try:
        compiled = compile_script(case.script)
    except ScriptError:
        return (COMPILE_ERROR,)
    environment = Environment(
        hostname="mx.example.com",
        mailboxes=frozenset(case.mailboxes),
        addresses=(case.rcpt_to,),
        spam_header="X-Spam-Score",
        spam_max=10.0,
    )
    message = SieveMessage.parse(message_bytes(case.message))
    outcome = evaluate(compiled, message, SieveEnvelope(case.mail_from, case.rcpt_to), environment)
    return from_mesyx(outcome)


def expected_answer(case: Case) -> tuple[str, ...]:
    """Pigeonhole's stored answer, or the case's hand-written one where Pigeonhole cannot answer."""
    if case.expected is not None:
        return case.expected
    return load_expected()[case.id].answer


def disagreements() -> list[tuple[Case, tuple[str, ...], tuple[str, ...]]]:
    """Every case where Mesyx's answer is not Pigeonhole's: (case, Mesyx, Pigeonhole)."""
    recorded = load_expected()
    found = []
    for case in load_cases():
        expected = case.expected if case.expected is not None else recorded[case.id].answer
        try:
            got = mesyx_answer(case)
        except Exception as error:  # noqa: BLE001 - the report names any crash as the answer
            got = (f"crash: {type(error).__name__}: {error}",)
        if got != expected:
            found.append((case, got, expected))
    return found


def _markdown() -> str:
    found = disagreements()
    total = len(load_cases())
    lines = [
        "# SIEVE corpus: Mesyx against Pigeonhole",
        "",
        f"{len(found)} of {total} cases disagree. Written by `tests/sieve_corpus/mesyx_side.py`;",
        "cases in `tests/sieve_corpus/cases/<group>.toml`, answers in `expected/<group>.toml`.",
    ]
    for case, got, expected in found:
        lines += ["", f"## {case.id}", "", f"message `{case.message}`, from `{case.mail_from}`, to `{case.rcpt_to}`"]
        lines += ["", "```sieve", case.script.rstrip(), "```", ""]
        lines += ["- Mesyx:", *(f"  - `{line}`" for line in got)]
        lines += ["- Pigeonhole:", *(f"  - `{line}`" for line in expected)]
        detail = case.answered_by or load_expected()[case.id].detail
        if detail:
            lines += ["", *(f"> {line}" for line in detail.splitlines())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(_markdown())
