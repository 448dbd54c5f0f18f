"""SIEVE evaluations per second: Mesyx's interpreter beside Pigeonhole, same script, same run.

Issue 5: a realistic 50-rule script on a 10 KiB message must never be the bottleneck of
ingest: at least 5,000 evaluations per second per core. Mesyx is measured in-process, one
thread (so per core), each evaluation parsing the message as the pipeline does
(``SieveMessage.parse`` + ``evaluate``). The reference is Pigeonhole's ``sieve-filter``
(Debian's dovecot-sieve), the same script over a Maildir holding the same message N times,
in one process: its CPU time (from ``RUSAGE_CHILDREN``) per message includes reading the
message from disk, which Mesyx's figure does not, so the ratio flatters Pigeonhole's
cost a little. Both must take the same actions, which the script checks first.

    .venv/bin/python bench/sieve.py [--evaluations 20000] [--messages 5000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT))

from mesyx.sieve import compile_script  # noqa: E402
from mesyx.sieve.environment import Environment, SieveEnvelope  # noqa: E402
from mesyx.sieve.interpret import evaluate  # noqa: E402
from mesyx.sieve.message import SieveMessage  # noqa: E402

_SENDERS = ["boss", "hr", "payroll", "it-support", "facilities", "legal", "security", "travel", "cfo", "ceo"]
_TOPICS = ["invoice", "meeting", "urgent", "newsletter", "report", "deadline", "offer", "receipt", "password", "survey"]
_LISTS = ["announce", "users", "security-advisories", "ops", "dev"]


def realistic_script() -> str:
    """50 rules as people write them: senders, subjects, spam, size, a body check, then lists.

    The bench message is on the last list, so every rule runs (the worst case)."""
    rules = ['require ["fileinto", "imap4flags", "variables", "relational", "comparator-i;ascii-numeric",'
             ' "regex", "body", "mailbox", "spamtest", "envelope", "subaddress"];']
    for name in _SENDERS:  # 10
        rules.append(f'if address :is "from" "{name}@corp.example.com" {{ fileinto "Work/{name}"; stop; }}')
    for domain in ("bank.example", "shop.example", "airline.example", "insurer.example", "telco.example"):  # 5
        rules.append(f'if address :domain :is "from" "{domain}" {{ fileinto "Accounts"; stop; }}')
    for topic in _TOPICS:  # 10
        rules.append(f'if header :contains "subject" "{topic}" {{ addflag "${topic}"; }}')
    for word in ("viagra", "lottery", "winner", "bitcoin", "inheritance"):  # 5
        rules.append(f'if header :matches "subject" "*{word}*" {{ fileinto "Junk"; stop; }}')
    rules += [  # 15 more: regex, envelope, subaddress, spam, size, variables, exists, body
        'if header :regex "subject" "^\\\\[(ticket|case) #[0-9]+\\\\]" { fileinto "Tickets"; stop; }',
        'if header :regex "from" "noreply|no-reply|donotreply" { addflag "$auto"; }',
        'if header :regex "x-mailer" "^(Outlook|Thunderbird)" { addflag "$human"; }',
        'if envelope :detail "to" "shopping" { fileinto "Shopping"; stop; }',
        'if envelope :detail "to" "travel" { fileinto "Travel"; stop; }',
        'if envelope :domain :is "from" "partner.example" { fileinto "Partners"; stop; }',
        'if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { discard; stop; }',
        'if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto "Junk"; stop; }',
        'if size :over 20M { fileinto "Big"; stop; }',
        'if header :matches "subject" "Re: *" { set "thread" "${1}"; }',
        'if exists "x-github-reason" { fileinto "GitHub"; stop; }',
        'if header :is "precedence" ["bulk", "junk"] { fileinto "Bulk"; stop; }',
        'if address :is ["to", "cc"] "all-staff@corp.example.com" { fileinto "Staff"; stop; }',
        'if header :contains "x-priority" "1" { addflag "\\\\Flagged"; }',
        'if body :text :contains "unsubscribe from this newsletter" { fileinto "Newsletters"; stop; }',
    ]
    for name in _LISTS:  # 5, last: the message is on the last list, so every rule before it runs
        rules.append(f'if header :contains "list-id" "<{name}.lists.example.org>" {{ fileinto :create "Lists/{name}";'
                     ' stop; }')
    assert len(rules) == 51, len(rules)  # require + 50 rules
    return "\n".join(rules) + "\n"


def realistic_message() -> bytes:
    """About 10 KiB: the headers of real list mail and a plain text body."""
    headers = (
        b"Return-Path: <dev-bounces@lists.example.org>\r\n"
        b"Received: from mx.lists.example.org ([192.0.2.10]) by mx.example.com with ESMTPS; "
        b"Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"From: Alice Developer <alice@example.net>\r\n"
        b"To: dev@lists.example.org\r\n"
        b"Cc: Bob <bob@example.com>\r\n"
        b"Subject: =?UTF-8?Q?Re:_patch_review_for_the_parser?=\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <20261123100000.1234@example.net>\r\n"
        b"List-Id: Developers <dev.lists.example.org>\r\n"
        b"List-Post: <mailto:dev@lists.example.org>\r\n"
        b"X-Spam-Score: 1.2\r\n"
        b"X-Mailer: Thunderbird 128\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
    )
    line = b"The parser keeps line and column on every node; the validator checks each extension.\r\n"
    body = line * ((10 * 1024 - len(headers)) // len(line))
    return headers + body


def mesyx_rate(script_text: str, raw: bytes, evaluations: int) -> tuple[float, float, list[str]]:
    """(evaluations per CPU second, per wall second, the rendered actions)."""
    script = compile_script(script_text)
    envelope = SieveEnvelope("dev-bounces@lists.example.org", "bob@example.com")
    environment = Environment(addresses=("bob@example.com",))
    outcome = evaluate(script, SieveMessage.parse(raw), envelope, environment)
    assert outcome.error is None, outcome.error
    for _ in range(min(200, evaluations)):
        evaluate(script, SieveMessage.parse(raw), envelope, environment)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(evaluations):
        evaluate(script, SieveMessage.parse(raw), envelope, environment)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return evaluations / cpu, evaluations / wall, outcome.render()


_PIGEONHOLE_CONFIG = """\
mail_location = maildir:{home}/Maildir
plugin {{
  sieve_extensions = +spamtest +spamtestplus
  sieve_spamtest_status_type = score
  sieve_spamtest_status_header = X-Spam-Score: ([[:digit:]]+(\\.[[:digit:]]+)?)
  sieve_spamtest_max_value = 10
}}
"""


def pigeonhole_rate(script_text: str, raw: bytes, messages: int) -> tuple[float, float, str] | None:
    """(messages per CPU second, per wall second, its verbose output for one message), or None."""
    if shutil.which("sieve-filter") is None or shutil.which("setpriv") is None:
        return None
    home = Path(tempfile.mkdtemp(prefix="mesyx-bench-sieve-"))
    try:
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
        for i in range(messages):
            (home / "Maildir" / "cur" / f"{i}.bench:2,").write_bytes(raw)
        (home / "script.sieve").write_text(script_text)
        (home / "dovecot.conf").write_text(_PIGEONHOLE_CONFIG.format(home=home))
        subprocess.run(["chown", "-R", "nobody:nogroup", str(home)], check=True)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   "env", f"HOME={home}", "USER=nobody",
                   "sieve-filter", "-c", str(home / "dovecot.conf"), str(home / "script.sieve"), "INBOX"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        one = subprocess.run(command[:-2] + ["-v", *command[-2:]], check=True, capture_output=True, text=True)
        first = one.stdout.split(">> Filtering message:")[1] if ">> Filtering message:" in one.stdout else one.stdout
        return messages / cpu, messages / wall, first
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evaluations", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=5_000, help="Pigeonhole's Maildir size")
    args = parser.parse_args()
    script, raw = realistic_script(), realistic_message()
    print(f"script: 50 rules, {len(script)} bytes; message: {len(raw)} bytes; CPUs: {os.cpu_count()}")
    per_cpu, per_wall, actions = mesyx_rate(script, raw, args.evaluations)
    print(f"Mesyx actions: {actions}")
    reference = pigeonhole_rate(script, raw, args.messages)
    print(f"Mesyx:      {per_cpu:9,.0f} evaluations per CPU second ({per_wall:,.0f}/s wall, "
          f"{1e6 / per_cpu:.0f} us each), {args.evaluations} evaluations")
    if reference is None:
        print("Pigeonhole: sieve-filter not installed (apt-get install dovecot-sieve): no reference")
    else:
        ref_cpu, ref_wall, shown = reference
        stored = [line.strip() for line in shown.splitlines() if line.strip().startswith(("*", "+"))]
        print(f"Pigeonhole actions: {stored}")
        print(f"Pigeonhole: {ref_cpu:9,.0f} messages per CPU second ({ref_wall:,.0f}/s wall, "
              f"{1e6 / ref_cpu:.0f} us each, reading each from a Maildir), {args.messages} messages")
        print(f"ratio Mesyx / Pigeonhole (CPU): {per_cpu / ref_cpu:.2f}")
    print(f"target >= 5,000 evaluations per second per core: {'met' if per_cpu >= 5000 else 'NOT met'}")


if __name__ == "__main__":
    main()
