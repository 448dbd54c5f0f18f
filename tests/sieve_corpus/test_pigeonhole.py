"""The stored answers are still Pigeonhole's: re-run sieve-test on every case and compare.

Skipped without Debian's dovecot-sieve (``sieve-test``). A failure here means the corpus
and Pigeonhole drifted apart (a new Pigeonhole, an edited case not re-recorded): re-record
with ``.venv/bin/python tests/sieve_corpus/record.py`` and review the diff.
"""

from __future__ import annotations

import pytest

from tests.sieve_corpus import pigeonhole
from tests.sieve_corpus.corpus import Case, load_cases, load_expected

CASES = [case for case in load_cases() if case.expected is None]


@pytest.mark.skipif(pigeonhole.SIEVE_TEST is None, reason="sieve-test is not installed (Debian package dovecot-sieve)")
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_pigeonhole_still_answers_so(case: Case) -> None:
    answer, detail = pigeonhole.answer(case)
    assert answer == load_expected()[case.id].answer, detail
