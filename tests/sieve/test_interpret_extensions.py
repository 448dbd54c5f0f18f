"""The extensions at run time, on their RFCs' examples (RFC 5229, 5230, 5231, 5232, 5233, 5260, 5173, 5235, 5490)."""

from __future__ import annotations

import datetime

from mesyx.sieve.actions import Vacation
from mesyx.sieve.environment import DAY, Environment
from tests.sieve.interp_helpers import NOW, PLAIN, lines, run

VARS = 'require ["variables", "fileinto"];\n'


def test_set_modifiers_rfc5229_section_4() -> None:
    script = (
        VARS
        + """
set "a" "juMBlEd lETteRS";
set :length "len" "${a}";
set :lower "low" "${a}";
set :upperfirst "uf" "${a}";
set :upperfirst :lower "ufl" "${a}";
set :quotewildcard "q" "Rock*";
fileinto "${len}|${low}|${uf}|${ufl}|${q}|${unknown}|${A}";
"""
    )
    assert lines(script) == ['fileinto "15|jumbled letters|JuMBlEd lETteRS|Jumbled letters|Rock\\\\*||juMBlEd lETteRS"']


def test_match_variables_rfc5229_section_3_2() -> None:
    script = (
        VARS
        + """
if header :matches "Subject" "* have a *" { fileinto "${0}/${1}/${2}/${3}"; }
"""
    )
    assert lines(script) == ['fileinto "I have a present for you/I/present for you/"']
    failed_keeps_old = (
        VARS
        + """
if header :matches "Subject" "I *" { set "x" "${1}"; }
if header :matches "Subject" "nothing*" { keep; }
fileinto "${1}";
"""
    )
    assert lines(failed_keeps_old) == ['fileinto "have a present for you"']


def test_string_test_and_count() -> None:
    script = (
        VARS
        + """
set "empty" "";
if string :is "${empty}" "" { fileinto "empty"; }
if string :count "eq" :comparator "i;ascii-numeric" ["a", "${empty}", "b"] "2" { fileinto "two"; }
"""
    )
    assert lines(script.replace('"variables"', '"variables", "relational", "comparator-i;ascii-numeric"')) == [
        'fileinto "empty"',
        'fileinto "two"',
    ]


def test_regex_captures() -> None:
    script = 'require ["regex", "variables", "fileinto"];\n'
    script += 'if header :regex "subject" "^I (have) a ([a-z]+)" { fileinto "${1}-${2}"; }'
    assert lines(script) == ['fileinto "have-present"']


def test_imap4flags_rfc5232_examples() -> None:
    script = """
require ["imap4flags", "fileinto", "variables"];
addflag "\\\\Flagged";
addflag ["Junk", "\\\\flagged"];
removeflag "Junk";
if hasflag :is "\\\\FLAGGED" { addflag "Seen" ; }
if header :contains "from" "coyote" {
    setflag "flagvar" "\\\\Answered";
    fileinto :flags "${flagvar}" "From Coyote";
}
fileinto "Rest";
"""
    assert lines(script) == [
        'fileinto "From Coyote" :flags "\\\\Answered"',
        'fileinto "Rest" :flags ["\\\\Flagged", "Seen"]',
    ]
    last_wins = 'require ["imap4flags", "fileinto"]; fileinto :flags "a" "Box"; fileinto :flags "b" "Box";'
    assert lines(last_wins) == ['fileinto "Box" :flags "b"']
    implicit = 'require "imap4flags"; setflag "a b"; addflag "c"; removeflag "b";'
    assert lines(implicit) == ['keep :flags ["a", "c"]']
    variable = 'require ["imap4flags", "variables"]; set "v" "x y"; if hasflag :contains "v" "y" { discard; }'
    assert lines(variable) == ["discard"]


def test_relational_rfc5231() -> None:
    head = 'require ["relational", "comparator-i;ascii-numeric", "fileinto"];\n'
    message = "X-Priority: 1\r\nTo: a@x.example, b@x.example\r\nCc: c@x.example\r\n\r\n"
    script = head + 'if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3" { fileinto "urgent"; }'
    assert lines(script, message) == ['fileinto "urgent"']
    count = head + 'if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { fileinto "many"; }'
    assert lines(count, message) == ['fileinto "many"']
    assert lines(count, PLAIN) == ["keep"]


def test_subaddress_rfc5233() -> None:
    script = """
require ["envelope", "subaddress", "fileinto"];
if envelope :user "to" "ken" { if envelope :detail "to" "sieve" { fileinto "sieve"; } }
if address :detail "to" "" { fileinto "empty-detail"; }
"""
    assert lines(script, rcpt_to="ken+sieve@example.org") == ['fileinto "sieve"']
    assert lines(script, "To: ken+@example.org\r\n\r\n", rcpt_to="ken@example.org") == ['fileinto "empty-detail"']


def test_date_and_currentdate_rfc5260() -> None:
    head = 'require ["date", "relational", "fileinto", "variables"];\n'
    script = (
        head
        + """
if date :is "date" "year" "1997" { fileinto "1997"; }
if date :originalzone "date" "hour" "09" { fileinto "local09"; }
if date :is "date" "hour" "17" { fileinto "utc17"; }
if date :zone "+0100" "date" "time" "18:06:31" { fileinto "cet"; }
if date :originalzone "date" "weekday" "2" { fileinto "tuesday"; }
if date :originalzone "date" "zone" "-0800" { fileinto "zone"; }
if currentdate :matches "iso8601" "*" { fileinto "${1}"; }
if currentdate :value "ge" "date" "2026-01-01" { fileinto "recent"; }
"""
    )
    assert lines(script) == [
        'fileinto "1997"',
        'fileinto "local09"',
        'fileinto "utc17"',
        'fileinto "cet"',
        'fileinto "tuesday"',
        'fileinto "zone"',
        'fileinto "2026-11-23T17:30:05Z"',
        'fileinto "recent"',
    ]
    julian = head + 'if date :originalzone "date" "julian" "50539" { fileinto "mjd"; }'
    assert lines(julian) == ['fileinto "mjd"']
    plus_one = head + 'if currentdate :zone "+0100" "iso8601" "2026-11-23T18:30:05+01:00" { fileinto "cet"; }'
    assert lines(plus_one) == ['fileinto "cet"']
    unknown_part = head + 'set "p" "fortnight"; if currentdate :count "eq" "${p}" "0" { fileinto "false"; }'
    assert lines(unknown_part) == ['fileinto "false"']
    assert lines(head + 'if date :is "date" "year" "1997" { discard; }', "Date: garbage\r\n\r\n") == ["keep"]


def test_index_rfc5260_section_6() -> None:
    message = (
        "Received: from a by b; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        "Received: from c by d; Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\n"
    )
    script = """
require ["date", "index", "fileinto"];
if date :index 1 "received" "day" "01" { fileinto "first"; }
if date :index 1 :last "received" "day" "02" { fileinto "last"; }
if header :index 2 :contains "received" "from c" { fileinto "second"; }
if header :index 3 :contains "received" "" { fileinto "none"; }
"""
    assert lines(script, message) == ['fileinto "first"', 'fileinto "last"', 'fileinto "second"']


def test_body_rfc5173() -> None:
    head = 'require ["body", "fileinto"];\n'
    assert lines(head + 'if body :text :contains "anvil" { fileinto "anvil"; }') == ['fileinto "anvil"']
    assert lines(head + 'if body :contains "ANVIL" { fileinto "anvil"; }') == ['fileinto "anvil"']
    assert lines(head + 'if body :raw :contains "X-Caffeine" { discard; }') == ["keep"]
    mime = (
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
    )
    assert lines(head + 'if body :content "application/pdf" :contains "%PDF" { fileinto "pdf"; }', mime) == [
        'fileinto "pdf"'
    ]
    assert lines(head + 'if body :content "text" :contains "%PDF" { fileinto "pdf"; }', mime) == ["keep"]
    prologue = mime.replace("\r\n\r\n--b\r\n", "\r\n\r\nThis is MIME.\r\n--b\r\n", 1) + "the end\r\n"
    script = head + 'if body :content "multipart" :contains ["This is MIME", "the end"] { fileinto "outside"; }'
    assert lines(script, prologue) == ['fileinto "outside"']
    assert lines(script, mime) == ["keep"]


def test_mailbox_rfc5490() -> None:
    env = Environment(now=NOW, mailboxes=frozenset({"Lists"}))
    script = """
require ["mailbox", "fileinto"];
if mailboxexists ["Lists", "INBOX"] { fileinto :create "Lists"; }
if mailboxexists "Nope" { discard; }
"""
    assert lines(script, environment=env) == ['fileinto "Lists"']
    outcome = run('require ["mailbox", "fileinto"]; fileinto :create "New";')
    assert outcome.actions[0].create is True  # type: ignore[union-attr]


def test_spamtest_rfc5235() -> None:
    head = 'require ["spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto"];\n'
    script = (
        head
        + """
if spamtest :value "ge" :comparator "i;ascii-numeric" "7" { fileinto "spam"; }
if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "75" { fileinto "75"; }
if spamtest :is "0" { fileinto "untested"; }
"""
    )
    assert lines(script, "X-Spam-Score: 7.5\r\n\r\n") == ['fileinto "spam"', 'fileinto "75"']
    assert lines(script, "X-Spam-Score: 42 / 10\r\n\r\n") == ['fileinto "spam"']
    assert lines(script, "X-Spam-Score: 6.6\r\n\r\n") == ["keep"]  # 1 + 0.66 * 9 = 6.94, truncated to 6
    assert lines(script, "Subject: x\r\n\r\n") == ['fileinto "untested"']


VACATION = """
require "vacation";
vacation :days 7 :addresses ["me@example.org"] "I'm away until October 19.";
"""


def test_vacation_rfc5230() -> None:
    message = "From: coyote@desert.example.org\r\nTo: me@example.org\r\nSubject: Hi\r\n\r\nbody\r\n"
    outcome = run(VACATION, message, rcpt_to="other@example.org")
    vacation = outcome.actions[0]
    assert isinstance(vacation, Vacation)
    assert (vacation.recipient, vacation.sender, vacation.subject) == (
        "coyote@desert.example.org",
        "other@example.org",
        "Auto: Hi",
    )
    assert vacation.period == 7 * DAY and vacation.handle
    assert outcome.render() == [
        'vacation "coyote@desert.example.org" :subject "Auto: Hi" "I\'m away until October 19."',
        "keep",
    ]
    custom = (
        'require ["vacation", "vacation-seconds"];'
        ' vacation :seconds 60 :subject "Away" :from "me@example.org" :handle "h" "r";'
    )
    v = run(custom, message, rcpt_to="me@example.org").actions[0]
    assert isinstance(v, Vacation)
    assert (v.subject, v.sender, v.handle, v.period) == ("Away", "me@example.org", "h", DAY)


def test_vacation_does_not_reply_to_automatic_mail() -> None:
    base = "From: coyote@desert.example.org\r\nTo: me@example.org\r\nSubject: Hi\r\n"
    for extra, sender in [
        ("", ""),
        ("", "MAILER-DAEMON@desert.example.org"),
        ("", "owner-list@desert.example.org"),
        ("", "list-request@desert.example.org"),
        ("", "me@example.org"),
        ("Auto-Submitted: auto-replied\r\n", "coyote@desert.example.org"),
        ("List-Id: <l.example.org>\r\n", "coyote@desert.example.org"),
        ("Precedence: bulk\r\n", "coyote@desert.example.org"),
    ]:
        assert lines(VACATION, base + extra + "\r\nx\r\n", mail_from=sender, rcpt_to="me@example.org") == ["keep"]
    not_to_me = "From: coyote@desert.example.org\r\nTo: list@example.net\r\n\r\nx\r\n"
    assert lines(VACATION, not_to_me, rcpt_to="me@example.org") == ["keep"]
    assert run(VACATION, not_to_me, rcpt_to="me@example.org").notes == (
        "vacation: no reply, none of the user's addresses is in To, Cc, Bcc or Resent-*",
    )
    auto_no = base + "Auto-Submitted: no\r\n\r\nx\r\n"
    assert lines(VACATION, auto_no, rcpt_to="me@example.org")[0].startswith("vacation")


def test_vacation_conflicts_with_reject_and_twice() -> None:
    assert lines('require ["vacation", "reject"]; vacation "a"; reject "b";')[0].startswith("error:")
    message = "From: coyote@desert.example.org\r\nTo: me@example.org\r\n\r\n"
    twice = 'require "vacation"; vacation :handle "a" "a"; vacation :handle "b" "b";'
    assert lines(twice, message, rcpt_to="me@example.org")[0].startswith("error: vacation used twice")


def test_date_default_zone_is_the_environments() -> None:
    zone = datetime.timezone(datetime.timedelta(hours=2))
    env = Environment(now=NOW.astimezone(zone))
    script = 'require ["date", "fileinto"]; if date :is "date" "hour" "19" { fileinto "plus2"; }'
    assert lines(script, environment=env) == ['fileinto "plus2"']
