"""The interpreter against Pigeonhole on edge cases beyond the corpus (tests/sieve/pigeonhole_probes.toml).

Each probe's answer was recorded once from Debian's Pigeonhole (``sieve-test``, with the
corpus's settings) by the interpreter's author while fixing disagreements, and is kept in
the corpus's normal form, so this runs without Dovecot. Probes that disagree on purpose
are not in the table: ``fileinto ""`` (sieve-test shows a store into "", which fails at
delivery; Mesyx makes it a runtime error, so the implicit keep), a negative
``X-Spam-Score`` (the corpus's Pigeonhole pattern reads ``-3`` as 3; Mesyx takes it as
clean), ``date :index N`` written before ``:originalzone`` (Pigeonhole then ignores the
index: a bug there), ``set :quoteregex`` (Pigeonhole lacks it: the validator's call) and
a vacation reply to a long Subject (sieve-test prints the reply's Subject folded).
With sieve-test installed, the slow test asks Pigeonhole again and compares.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mesyx.sieve import compile_script
from mesyx.sieve.environment import Environment, SieveEnvelope
from mesyx.sieve.interpret import evaluate
from mesyx.sieve.message import SieveMessage
from tests.sieve_corpus import pigeonhole
from tests.sieve_corpus.corpus import Case
from tests.sieve_corpus.normalise import from_mesyx

PROBES: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "pigeonhole_probes.toml").read_text(encoding="utf-8")
)["probe"]


def _raw(probe: dict[str, Any]) -> bytes:
    return bytes(probe["message"].encode(probe.get("encoding", "utf-8")).replace(b"\n", b"\r\n"))


def _sender(probe: dict[str, Any]) -> str:
    return str(probe.get("from", "alice@example.org"))


@pytest.mark.parametrize("probe", PROBES, ids=[p["name"] for p in PROBES])
def test_agrees_with_pigeonhole(probe: dict[str, Any]) -> None:
    outcome = evaluate(
        compile_script(probe["script"]),
        SieveMessage.parse(_raw(probe)),
        SieveEnvelope(_sender(probe), "user@example.com"),
        Environment(hostname="mx.example.com", addresses=("user@example.com",)),
    )
    assert from_mesyx(outcome) == tuple(probe["answer"])


def test_the_table_is_whole() -> None:
    names = [p["name"] for p in PROBES]
    assert len(names) == len(set(names)) and len(names) >= 200


@pytest.mark.slow
@pytest.mark.skipif(pigeonhole.SIEVE_TEST is None, reason="sieve-test is not installed (Debian package dovecot-sieve)")
@pytest.mark.parametrize("probe", PROBES, ids=[p["name"] for p in PROBES])
def test_pigeonhole_still_answers_so(probe: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw(probe)
    monkeypatch.setattr(pigeonhole, "message_bytes", lambda name: raw)
    case = Case("probe", probe["name"], probe["script"], "plain.eml", mail_from=_sender(probe))
    answer, detail = pigeonhole.answer(case)
    assert answer == tuple(probe["answer"]), detail
