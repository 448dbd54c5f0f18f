"""Run Pigeonhole's ``sieve-test`` on one corpus case and return its normalised answer.

sieve-test refuses to run as root, so as root each run drops to ``nobody`` with
``setpriv`` in a fresh scratch directory that nobody owns (its HOME: the vacation
duplicate database lives there, so no run suppresses another's reply). Its settings come
from a config file written next to the script (``-c``): ``-o`` does not reach the
``plugin {}`` settings the spamtest extension reads when it loads.

The settings agree with Mesyx's environment (tests/sieve_corpus/README.md): Mesyx's
extensions, the spam score in ``X-Spam-Score`` out of 10, the time zone UTC,
the envelope recipient as both original (``-a``) and final (``-r``) recipient: it is the
user whose address vacation looks for in the message (RFC 5230 section 4.5).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from mesyx.sieve import EXTENSIONS as MESYX_EXTENSIONS
from tests.sieve_corpus.corpus import Case, message_bytes
from tests.sieve_corpus.normalise import Run, from_pigeonhole

__all__ = ["SIEVE_TEST", "EXTENSIONS", "answer", "version"]

SIEVE_TEST = shutil.which("sieve-test")
_IMPLICIT = {"ereject", "comparator-i;octet", "comparator-i;ascii-casemap"}

#: Mesyx's capability list, so that a script compiles on one side exactly when its
#: requires compile on the other: ereject is left out (Debian's Pigeonhole lacks it, those
#: cases are answered by hand) and the two core comparators are always there.
EXTENSIONS = " ".join(name for name in MESYX_EXTENSIONS if name not in _IMPLICIT)
_CONFIG = f"""\
mail_location = maildir:~/Maildir:LAYOUT=fs
plugin {{
  sieve_extensions = {EXTENSIONS}
  sieve_spamtest_status_type = score
  sieve_spamtest_status_header = X-Spam-Score: ([[:digit:]]+(\\.[[:digit:]]+)?)
  sieve_spamtest_max_value = 10
}}
"""


def _as_nobody(directory: Path) -> list[str]:
    """The command prefix that runs sieve-test with HOME=directory, as nobody when root."""
    env = ["env", "-i", f"HOME={directory / 'home'}", "TZ=UTC", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    if os.geteuid() != 0:
        return env
    for path in [directory, *directory.rglob("*")]:
        shutil.chown(path, "nobody", "nogroup")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *env]


def _run(case: Case, execute: bool, stores: tuple[str, ...] = ()) -> Run:
    assert SIEVE_TEST is not None, "sieve-test is not installed"
    with tempfile.TemporaryDirectory(prefix="sieve-corpus-") as scratch:
        directory = Path(scratch)
        maildir = directory / "home" / "Maildir"
        for mailbox in ("INBOX", *case.mailboxes, *stores):
            for part in ("cur", "new", "tmp"):
                (maildir / mailbox / part).mkdir(parents=True, exist_ok=True)
        (directory / "dovecot.conf").write_text(_CONFIG, encoding="utf-8")
        (directory / "script.sieve").write_text(case.script, encoding="utf-8")
        (directory / "message.eml").write_bytes(message_bytes(case.message))
        command = [
            *_as_nobody(directory),
            SIEVE_TEST,
            "-c", str(directory / "dovecot.conf"),
            "-C",
            "-f", case.mail_from,
            "-a", case.rcpt_to,
            "-r", case.rcpt_to,
            *(["-e"] if execute else []),
            str(directory / "script.sieve"),
            str(directory / "message.eml"),
        ]  # fmt: skip
        if not case.mail_from:
            raise ValueError(f"{case.id}: sieve-test cannot take a null sender: answer the case by hand")
        done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        return Run(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def answer(case: Case) -> tuple[tuple[str, ...], str]:
    """Pigeonhole's normalised answer for a case, and its error lines if it failed."""
    plain = _run(case, execute=False)
    if " * send vacation message:" not in plain.stdout:
        return from_pigeonhole(plain, None)
    # Executed, a store into a missing mailbox fails the run and takes the reply with it:
    # the mailboxes the actions name exist for the -e run (Mesyx creates them on first use).
    stores = tuple(re.findall(r"(?m)^ \* store message in folder: (.*)$", plain.stdout))
    return from_pigeonhole(plain, _run(case, execute=True, stores=stores))


def version() -> str:
    """Pigeonhole's version as sieve-test's output names it (for the expected files' header)."""
    case = Case(group="version", name="version", script='require "vacation";\nvacation "x";\n', message="plain.eml")
    executed = _run(case, execute=True)
    for line in executed.stdout.splitlines():
        if line.startswith("X-Sieve: "):
            return line.removeprefix("X-Sieve: ")
    return "Pigeonhole (version unknown)"
