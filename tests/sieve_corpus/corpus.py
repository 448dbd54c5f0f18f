"""The differential corpus on disk: cases, messages and Pigeonhole's stored answers.

Layout (README.md has the full description)::

    tests/sieve_corpus/messages/<name>.eml   shared test messages (LF on disk, CRLF on the wire)
    tests/sieve_corpus/cases/<group>.toml    [[case]] tables: name, script, message(s), envelope
    tests/sieve_corpus/expected/<group>.toml Pigeonhole's normalised answers, written by record.py

A ``[[case]]`` with ``messages = [...]`` stands for one case per message (a script x
message matrix); its id is ``<group>/<name>@<message stem>``. A case carrying its own
``expected`` (with ``answered_by``) is one Pigeonhole cannot answer (an extension its
Debian build lacks); the recorder and test_pigeonhole.py leave it alone.
"""

from __future__ import annotations

import functools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ROOT",
    "DEFAULT_FROM",
    "DEFAULT_TO",
    "Case",
    "Recorded",
    "load_cases",
    "load_expected",
    "write_expected",
    "message_bytes",
]

ROOT = Path(__file__).resolve().parent
CASES = ROOT / "cases"
MESSAGES = ROOT / "messages"
EXPECTED = ROOT / "expected"

#: The envelope when a case names none: the sender, and the user whose script runs
#: (the final recipient, which vacation checks against the message's headers).
DEFAULT_FROM = "alice@example.org"
DEFAULT_TO = "user@example.com"

_KEYS = {"name", "source", "script", "message", "messages", "from", "to", "mailboxes", "expected", "answered_by"}


@dataclass(frozen=True)
class Case:
    """One script run on one message with one envelope."""

    group: str
    name: str
    script: str
    message: str
    mail_from: str = DEFAULT_FROM
    rcpt_to: str = DEFAULT_TO
    source: str = ""
    #: Mailboxes that exist before the run (mailboxexists, RFC 5490 section 3.1).
    mailboxes: tuple[str, ...] = ()
    #: A hand-written answer, for cases Pigeonhole cannot answer; ``answered_by`` says why.
    expected: tuple[str, ...] | None = None
    answered_by: str = ""

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


@dataclass(frozen=True)
class Recorded:
    """Pigeonhole's answer to one case as stored in ``expected/<group>.toml``."""

    answer: tuple[str, ...]
    #: Pigeonhole's error lines for compile and runtime errors, for a reviewer's eye.
    detail: str = ""


def message_bytes(name: str) -> bytes:
    """A message as both sides receive it: the file's lines joined with CRLF (RFC 5322)."""
    text = (MESSAGES / name).read_bytes()
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _cases_of(path: Path) -> list[Case]:
    group = path.stem
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    cases: list[Case] = []
    for table in data.get("case", []):
        unknown = set(table) - _KEYS
        if unknown:
            raise ValueError(f"{path.name}: case {table.get('name')!r}: unknown keys {sorted(unknown)}")
        messages = table.get("messages") or [table["message"]]
        for message in messages:
            if not (MESSAGES / message).is_file():
                raise ValueError(f"{path.name}: case {table['name']!r}: no message {message!r}")
            name = table["name"] if "message" in table else f"{table['name']}@{Path(message).stem}"
            expected = table.get("expected")
            cases.append(
                Case(
                    group=group,
                    name=name,
                    script=table["script"],
                    message=message,
                    mail_from=table.get("from", DEFAULT_FROM),
                    rcpt_to=table.get("to", DEFAULT_TO),
                    source=table.get("source", ""),
                    mailboxes=tuple(table.get("mailboxes", ())),
                    expected=None if expected is None else tuple(expected),
                    answered_by=table.get("answered_by", ""),
                )
            )
    return cases


def load_cases() -> list[Case]:
    """Every case of every group, in file order; case ids are checked to be unique."""
    cases = [case for path in sorted(CASES.glob("*.toml")) for case in _cases_of(path)]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate case id {case.id}")
        seen.add(case.id)
    return cases


@functools.cache
def load_expected() -> dict[str, Recorded]:
    """Pigeonhole's stored answers by case id (read once per process)."""
    answers: dict[str, Recorded] = {}
    for path in sorted(EXPECTED.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for name, table in data.items():
            answers[f"{path.stem}/{name}"] = Recorded(tuple(table["answer"]), table.get("detail", ""))
    return answers


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string, except that TOML wants DEL escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def write_expected(group: str, answers: dict[str, Recorded], header: str) -> Path:
    """Write one group's answers, in case order, with a header saying where they come from."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for name, recorded in answers.items():
        lines.append("")
        lines.append(f"[{_toml_string(name)}]")
        lines.append("answer = [" + ", ".join(_toml_string(line) for line in recorded.answer) + "]")
        if recorded.detail:
            lines.append(f"detail = {_toml_string(recorded.detail)}")
    EXPECTED.mkdir(exist_ok=True)
    path = EXPECTED / f"{group}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
