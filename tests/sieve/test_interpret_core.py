"""RFC 5228 at run time: control flow, base tests, actions, implicit keep, errors."""

from __future__ import annotations

import pytest

from mesyx.sieve.actions import Keep
from mesyx.sieve.limits import Limits
from tests.sieve.interp_helpers import PLAIN, lines, run

# RFC 5228 section 9, the example script, with its message sorting.
RFC5228_EXAMPLE = r"""
require ["fileinto", "reject"];

if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        { fileinto "filter"; }
elsif address :DOMAIN :is ["From", "To"] "example.com"
        { keep; }
elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"])
        { fileinto "spam"; }
else
        { fileinto "personal"; }
"""


def test_rfc5228_example_sorts_each_message() -> None:
    ietf = "Sender: owner-ietf-mta-filters@imc.org\r\nTo: me@example.com\r\n\r\nx\r\n"
    assert lines(RFC5228_EXAMPLE, ietf) == ['fileinto "filter"']
    local = "From: boss@example.com\r\nTo: me@example.com\r\n\r\nx\r\n"
    assert lines(RFC5228_EXAMPLE, local) == ["keep"]
    not_to_me = "From: x@elsewhere.example\r\nTo: you@example.net\r\n\r\nx\r\n"
    assert lines(RFC5228_EXAMPLE, not_to_me) == ['fileinto "spam"']
    money = "From: x@elsewhere.example\r\nTo: me@example.com.au\r\nSubject: MAKE MONEY FAST\r\n\r\n"
    assert lines(RFC5228_EXAMPLE, money) == ['fileinto "spam"']
    personal = "From: x@elsewhere.example\r\nTo: Me <me@example.com.au>\r\nSubject: hi\r\n\r\n"
    assert lines(RFC5228_EXAMPLE, personal) == ['fileinto "personal"']


def test_implicit_keep_and_what_cancels_it() -> None:
    assert lines("") == ["keep"]
    assert run("").actions == (Keep(implicit=True),)
    assert lines("discard;") == ["discard"]
    assert lines('require "fileinto"; fileinto "A";') == ['fileinto "A"']
    assert lines('require ["fileinto", "copy"]; fileinto :copy "A";') == ['fileinto "A"', "keep"]
    assert lines('redirect "x@example.net";') == ['redirect "x@example.net"']
    assert lines('require "copy"; redirect :copy "x@example.net";') == ['redirect "x@example.net"', "keep"]
    assert lines('require "reject"; reject "no";') == ['reject "no"']
    assert lines("keep; discard;") == ["keep", "discard"]


def test_duplicates_collapse() -> None:
    script = 'require "fileinto"; keep; fileinto "A"; fileinto "A"; fileinto "inbox"; keep;'
    assert lines(script) == ["keep", 'fileinto "A"']
    assert lines('redirect "a@b.example"; redirect "A@b.example";') == ['redirect "a@b.example"']


def test_stop_and_if_chains() -> None:
    script = 'require "fileinto"; if false { fileinto "no"; } elsif true { stop; } else { discard; } fileinto "never";'
    assert lines(script) == ["keep"]
    assert lines("if not true { discard; } else { discard; }") == ["discard"]


def test_tests() -> None:
    assert lines('if exists ["From", "X-Caffeine"] { discard; }') == ["discard"]
    assert lines('if exists ["From", "X-None"] { discard; }') == ["keep"]
    size = len(PLAIN.encode())
    assert lines(f"if size :over {size - 1} {{ discard; }}") == ["discard"]
    assert lines(f"if size :under {size} {{ discard; }}") == ["keep"]
    assert lines('if header :contains "x-caffeine" "" { discard; }') == ["discard"]
    assert lines('if header :is "subject" "i have a PRESENT for you" { discard; }') == ["discard"]
    assert lines('if header :comparator "i;octet" :is "subject" "i have a PRESENT for you" { discard; }') == ["keep"]
    assert lines('if address :localpart "from" "coyote" { discard; }') == ["discard"]
    assert lines('if address :domain "to" "ACME.example.com" { discard; }') == ["discard"]
    # An invalid address: only :all sees it, as its text (RFC 5228 section 2.7.4).
    assert lines('if address :all :is "to" "root" { discard; }', "To: root\r\n\r\n") == ["discard"]
    assert lines('if address :localpart :is "to" "root" { discard; }', "To: root\r\n\r\n") == ["keep"]
    assert lines("if allof (true, false) { discard; }") == ["keep"]
    assert lines("if anyof (false, true) { discard; }") == ["discard"]


def test_envelope() -> None:
    script = 'require "envelope"; if envelope :domain "from" "desert.example.org" { discard; }'
    assert lines(script) == ["discard"]
    null = 'require "envelope"; if envelope :all :is "from" "" { discard; }'
    assert lines(null, mail_from="") == ["discard"]
    assert lines(null) == ["keep"]
    to = 'require "envelope"; if envelope :localpart "to" "roadrunner" { discard; }'
    assert lines(to) == ["discard"]


def test_encoded_headers_are_decoded() -> None:
    message = "Subject: =?ISO-8859-1?Q?caf=E9?= =?UTF-8?B?IGNyw6htZQ==?=\r\n\r\n"
    assert lines('if header :is "subject" "café crème" { discard; }', message) == ["discard"]


def test_runtime_errors_keep_the_message() -> None:
    conflict = run('require ["reject", "fileinto"]; fileinto "A"; reject "no";')
    assert conflict.actions == (Keep(implicit=True),)
    assert conflict.error is not None and "reject" in conflict.error
    assert lines('require "reject"; reject "a"; reject "b";')[0].startswith("error:")
    too_many = "".join(f'redirect "u{i}@example.net";' for i in range(5))
    assert lines(too_many)[0].startswith("error: more than 4 redirects")
    actions = 'require "fileinto";' + "".join(f'fileinto "m{i}";' for i in range(40))
    assert lines(actions)[0].startswith("error: more than 32 actions")
    assert lines("keep; keep; keep;", limits=Limits(steps=2))[0].startswith("error: more than 2")
    name_addr = 'require "variables"; set "a" "Bart <bart@example.com>"; redirect "${a}";'
    assert lines(name_addr) == ['redirect "bart@example.com"']
    bad_redirect = 'require "variables"; set "a" "not an address"; redirect "${a}";'
    assert lines(bad_redirect)[0].startswith("error: redirect")
    multi_line = 'require "variables"; set "a" text:\r\nnot\r\nan address\r\n.\r\n; redirect "${a}";'
    error = run(multi_line).error
    assert error is not None and "\n" not in error and "\r" not in error


def test_variable_limits() -> None:
    many = 'require "variables";' + "".join(f'set "v{i}" "x";' for i in range(300))
    assert lines(many)[0].startswith("error: more than 255 variables")
    long_value = (
        'require ["variables", "fileinto"]; set "a" "' + "y" * 5000 + '"; set :length "n" "${a}"; fileinto "${n}";'
    )
    assert lines(long_value) == ['fileinto "4096"']


def test_a_bug_inside_is_the_implicit_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    from mesyx.sieve import run_tests

    def broken(run: object, call: object) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setitem(run_tests.TESTS, "true", broken)
    outcome = run("if true { discard; }")
    assert outcome.actions == (Keep(implicit=True),)
    assert outcome.error is not None and outcome.error.startswith("internal error ")
