"""Mesyx agrees with Pigeonhole on every case of the SIEVE corpus (issue 5, differential testing).

The answers were recorded from Pigeonhole's sieve-test by record.py and are stored in
``expected/``; this test needs no Dovecot. A failure names the case (``<group>/<name>``);
``mesyx_side.py`` lists every disagreement at once. Never edit an expected answer to make
Mesyx pass: the reference is Pigeonhole (README.md).
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from mesyx.sieve import EXTENSIONS as MESYX_EXTENSIONS
from tests.sieve_corpus.corpus import MESSAGES, Case, load_cases, load_expected
from tests.sieve_corpus.mesyx_side import expected_answer, mesyx_answer

CASES = load_cases()
HAVE_INTERPRETER = importlib.util.find_spec("mesyx.sieve.interpret") is not None

#: Every extension Mesyx offers must be required by some case (the core comparators need no require).
EXTENSIONS = set(MESYX_EXTENSIONS) - {"comparator-i;octet", "comparator-i;ascii-casemap"}


@pytest.mark.skipif(not HAVE_INTERPRETER, reason="mesyx.sieve.interpret does not exist yet (issue 5's interpreter)")
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_mesyx_agrees_with_pigeonhole(case: Case) -> None:
    assert mesyx_answer(case) == expected_answer(case), f"{case.id} ({case.source})"


def test_every_case_has_an_answer() -> None:
    recorded = load_expected()
    missing = [case.id for case in CASES if case.expected is None and case.id not in recorded]
    assert not missing, f"not recorded (run tests/sieve_corpus/record.py): {missing}"
    stale = set(recorded) - {case.id for case in CASES}
    assert not stale, f"answers without a case (re-record): {sorted(stale)}"


def test_corpus_covers_the_language() -> None:
    assert len(CASES) >= 200
    required = {name for case in CASES for name in re.findall(r'"([a-z0-9;-]+)"', _requires(case.script))}
    assert required >= EXTENSIONS, f"no case requires {sorted(EXTENSIONS - required)}"
    used = {case.message for case in CASES}
    assert used == {path.name for path in MESSAGES.glob("*.eml")}, "a message file no case uses"


def _requires(script: str) -> str:
    return " ".join(re.findall(r"(?is)require\s*(\[[^\]]*\]|\"[^\"]*\")", script))
