"""Random well-formed scripts on random messages: ``evaluate`` never raises (issue 5, safety)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.sieve import compile_script
from mesyx.sieve.actions import Keep, Outcome
from mesyx.sieve.environment import Environment, SieveEnvelope
from mesyx.sieve.interpret import evaluate
from mesyx.sieve.message import SieveMessage
from tests.sieve.interp_helpers import NOW
from tests.sieve.strategies import messages, valid_scripts

_ENV = Environment(hostname="mx.example", now=NOW, addresses=("bob@example.com",), mailboxes=frozenset({"Lists"}))
_SENDERS = st.sampled_from(["alice@example.org", "", "MAILER-DAEMON@example.org", "bob+x@example.com"])


def _check(outcome: Outcome) -> None:
    assert outcome.actions, "every outcome does something, at least the implicit keep"
    if outcome.error is not None:
        assert outcome.actions == (Keep(implicit=True),)
        assert "\n" not in outcome.error
    for action in outcome.actions:
        action.render()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scripts(), st.one_of(messages(), st.binary(max_size=500)), _SENDERS)
def test_random_scripts_never_raise(script: str, raw: bytes, sender: str) -> None:
    compiled = compile_script(script)
    message = SieveMessage.parse(raw)
    _check(evaluate(compiled, message, SieveEnvelope(sender, "bob@example.com"), _ENV))
    # The per-script cache must not change the answer of a second run.
    again = evaluate(compiled, SieveMessage.parse(raw), SieveEnvelope(sender, "bob@example.com"), _ENV)
    _check(again)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.binary(max_size=300))
def test_variables_from_the_message_never_raise(pattern: str, raw: bytes) -> None:
    script = (
        'require ["variables", "regex", "fileinto", "imap4flags"];\r\n'
        'if header :matches "subject" "*" { set "s" "${1}"; }\r\n'
        'if string :regex "${s}" "${s}" { fileinto "${s}"; }\r\n'
        'if string :matches "${s}" "${s}" { addflag "${s}"; redirect "${s}"; }\r\n'
    )
    raw = (
        b"Subject: "
        + pattern.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")
        + b"\r\n\r\n"
        + raw
    )
    _check(evaluate(compile_script(script), SieveMessage.parse(raw), SieveEnvelope("a@b.example", "c@d.example"), _ENV))
