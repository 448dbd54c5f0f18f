"""Re-record Pigeonhole's answers for the SIEVE corpus (issue 5, differential testing).

Usage, from the repository root (needs Debian's dovecot-sieve)::

    .venv/bin/python tests/sieve_corpus/record.py            # every group
    .venv/bin/python tests/sieve_corpus/record.py vacation   # only cases/vacation.toml

Runs sieve-test on every case (tests/sieve_corpus/pigeonhole.py) and rewrites
``expected/<group>.toml`` with the normalised answers. Cases that carry a hand-written
``expected`` (Pigeonhole lacks their extension) are not recorded. Review the diff of
``expected/`` like code: a changed answer is a changed reference.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sieve_corpus import pigeonhole  # noqa: E402
from tests.sieve_corpus.corpus import Case, Recorded, load_cases, write_expected  # noqa: E402
from tests.sieve_corpus.normalise import PigeonholeOutputError  # noqa: E402


def _record(case: Case) -> Recorded:
    try:
        answer, detail = pigeonhole.answer(case)
    except PigeonholeOutputError as error:
        raise PigeonholeOutputError(f"{case.id}: {error}") from error
    return Recorded(answer, detail)


def main(groups: list[str]) -> int:
    if pigeonhole.SIEVE_TEST is None:
        print("record.py: sieve-test is not installed (apt-get install dovecot-sieve)", file=sys.stderr)
        return 1
    cases = [case for case in load_cases() if case.expected is None and (not groups or case.group in groups)]
    if not cases:
        print(f"record.py: no cases in groups {groups}", file=sys.stderr)
        return 1
    with ThreadPoolExecutor(max_workers=4) as pool:
        recorded = list(pool.map(_record, cases))
    header = (
        f"Pigeonhole's answers ({pigeonhole.version()}), normalised by normalise.py.\n"
        "Written by tests/sieve_corpus/record.py: do not edit by hand, re-record (README.md)."
    )
    by_group: dict[str, dict[str, Recorded]] = {}
    for case, answer in zip(cases, recorded, strict=True):
        by_group.setdefault(case.group, {})[case.name] = answer
    for group, answers in by_group.items():
        path = write_expected(group, answers, header)
        errors = sum(1 for answer in answers.values() if answer.answer[0].startswith("error: "))
        print(
            f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: "
            f"{len(answers)} cases, {errors} errors"
        )
    print(f"{len(cases)} cases recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
