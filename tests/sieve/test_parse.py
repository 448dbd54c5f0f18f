"""The SIEVE parser and validator: RFC 5228's grammar, errors with line and column, limits."""

from __future__ import annotations

import pytest

from mesyx.errors import ScriptError
from mesyx.sieve import compile_bytes, compile_script
from mesyx.sieve.ast import Command, Number, Position, StringList, Tag
from mesyx.sieve.ast import Test as SieveTest
from mesyx.sieve.limits import Limits
from mesyx.sieve.parse import parse

#: RFC 5228 section 9, the complete example (with its extensions required).
RFC5228_EXAMPLE = """\
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"""


def test_rfc5228_example_compiles_into_one_if_chain() -> None:
    compiled = compile_script(RFC5228_EXAMPLE)
    assert compiled.requires == frozenset({"fileinto"})
    (chain,) = compiled.calls
    names = []
    node = chain
    while node is not None:
        names.append(node.name)
        node = node.orelse
    assert names == ["if", "elsif", "elsif", "else"]
    address = chain.orelse.tests[0] if chain.orelse else None
    assert address is not None and address.tags == {"address-part": "domain", "match": "is",
                                                    "comparator": "i;ascii-casemap"}
    assert address.positional == (("From", "To"), ("example.com",))


def test_tree_keeps_positions_types_and_quantifiers() -> None:
    script = parse('if size :over 1M {\r\n  fileinto ["a", "b"];\r\n}\r\nkeep;')
    first = script.commands[0]
    assert first == Command("if", (), (SieveTest("size", (Tag("over"), Number(1 << 20))),),
                            (Command("fileinto", (StringList(("a", "b"), True),)),))
    assert first.pos == Position(1, 1)
    assert first.tests[0].pos == Position(1, 4)
    assert first.block is not None and first.block[0].pos == Position(2, 3)
    assert script.commands[1].pos == Position(4, 1)


def test_strings_unescape_and_multiline_unstuffs() -> None:
    script = parse('x "a\\"b\\\\c\\d" text: # comment\r\nline\r\n..dot\r\n.\r\n;')
    (command,) = script.commands
    assert command.arguments == (StringList(('a"b\\cd',)), StringList(("line\r\n.dot\r\n",)))


def test_bare_lf_scripts_parse_like_crlf() -> None:
    assert parse("keep;\nif true {\n stop;\n}\n") == parse("keep;\r\nif true {\r\n stop;\r\n}\r\n")


@pytest.mark.parametrize(
    ("script", "line", "column", "fragment"),
    [
        ('keep;\nfileinto "x";', 2, 1, 'require "fileinto"'),
        ('require "fileinto";\n\n  fileinto ["a", "b"];', 3, 12, "single string"),
        ("keep", 1, 5, "expected ';'"),
        ('if true {\n keep;\n', 3, 1, "not closed"),
        ('"abc', 1, 1, "expected a command"),
        ('keep "abc', 1, 6, "not closed"),
        ("/* open", 1, 1, "comment"),
        ("if header :is :contains \"a\" \"b\" { keep; }", 1, 15, ":is and :contains"),
        ('require "nope";', 1, 1, 'unsupported extension "nope"'),
        ('header "a" "b";', 1, 1, "is a test, not a command"),
        ("if keep { stop; }", 1, 4, "is a command, not a test"),
        ("else { keep; }", 1, 1, "must follow if"),
        ("keep;\nrequire \"fileinto\";", 2, 1, "require must come before"),
        ("if size 10 { keep; }", 1, 4, ":over or :under"),
        ("if size :over \"10\" { keep; }", 1, 15, "takes a number"),
        ("if true;", 1, 1, "takes a block"),
        ("stop { }", 1, 1, "takes no block"),
        ("keep :copy;", 1, 6, "has no tag :copy"),
        ('redirect "a@b.c" :copy;', 1, 18, "must come before"),
        ('require "copy"; redirect :copy;', 1, 17, "1 positional"),
        ("if exists \"a b\" { keep; }", 1, 4, "not a valid header field name"),
        ('require "envelope"; if envelope "x" "y" { keep; }', 1, 24, "envelope part"),
        ('require "regex"; if header :regex "s" "(" { keep; }', 1, 21, "invalid regular expression"),
        ('require "relational"; if header :value "xx" "s" "1" { keep; }', 1, 26, "relational operator"),
        ('require "variables"; set :lower :upper "a" "b";', 1, 22, "one modifier"),
        ('require "variables"; set "a-b" "c";', 1, 22, "variable name"),
        ('if address :is "subject" "a@b.c" { keep; }', 1, 4, "holds no addresses"),
        ('require "variables"; set "foo.bar" "x";', 1, 22, 'unknown variable namespace "foo"'),
        ('redirect "A <a@b.c> B <b@c.d>";', 1, 1, "not a valid address"),
        ('require "index"; if header :last "s" "x" { keep; }', 1, 21, ":last needs :index"),
        ('if header :comparator "i;nope" "s" "x" { keep; }', 1, 4, "unknown comparator"),
        ('require "comparator-i;ascii-numeric"; if header :contains :comparator "i;ascii-numeric" "s" "1" { keep; }',
         1, 42, "cannot do :contains"),
        ("if 99999999999999999999 { }", 1, 4, "too large"),
        ('redirect "nobody";', 1, 1, "not a valid address"),
        ("keep;\rkeep;", 1, 6, "carriage return"),
    ],
)
def test_errors_point_at_line_and_column(script: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(ScriptError) as caught:
        compile_script(script)
    assert fragment in caught.value.message
    assert (caught.value.line, caught.value.column) == (line, column), caught.value.located()


def test_invalid_utf8_is_an_error_at_its_byte() -> None:
    with pytest.raises(ScriptError) as caught:
        compile_bytes(b'keep;\r\nreject "\xff";')
    assert (caught.value.line, caught.value.column) == (2, 9)


def test_limits_refuse_big_deep_and_wide_scripts() -> None:
    with pytest.raises(ScriptError, match="bytes, more than the limit"):
        compile_script("keep;" * 30, Limits(script_bytes=100))
    with pytest.raises(ScriptError, match="nested deeper"):
        compile_script("if not " * 40 + "true {keep;}")
    with pytest.raises(ScriptError, match="more than 50 commands"):
        compile_script("keep; " * 51, Limits(nodes=50))


def test_encoded_character_only_when_required() -> None:
    text = 'if header :is "s" "${hex:41}${unicode:e9}${hex:zz}" { keep; }'
    plain = compile_script(text).calls[0].tests[0].positional[1]
    assert plain == ("${hex:41}${unicode:e9}${hex:zz}",)
    encoded = compile_script('require "encoded-character";\n' + text).calls[0].tests[0].positional[1]
    assert encoded == ("A\u00e9${hex:zz}",)
    with pytest.raises(ScriptError, match="not a Unicode character"):
        compile_script('require ["encoded-character", "reject"]; reject "${unicode:D800}";')


def test_extensions_implied_and_tags_sorted() -> None:
    compiled = compile_script(
        'require ["spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto", "copy", "imap4flags"];\n'
        'if spamtest :percent :value "ge" :comparator "i;ascii-numeric" "50" '
        '{ fileinto :copy :flags ["\\\\Seen", "$Junk"] "Junk"; }'
    )
    assert "spamtest" in compiled.requires
    (call,) = compiled.calls
    assert call.tests[0].tags == {"percent": True, "match": "value", "relation": "ge", "comparator": "i;ascii-numeric"}
    assert call.block[0].tags == {"copy": True, "flags": ("\\Seen", "$Junk")}
    assert call.block[0].positional == ("Junk",)


def test_imap4flags_optional_variable_name() -> None:
    compiled = compile_script('require ["imap4flags", "variables"]; setflag "f" "\\\\Seen"; addflag "\\\\Flagged";')
    assert [c.positional for c in compiled.calls] == [("f", ("\\Seen",)), (("\\Flagged",),)]


def test_what_is_checked_at_run_time_not_at_upload() -> None:
    """Pigeonhole's split: an unknown date part or zone is a false test, a name-addr redirects."""
    compile_script('require "date"; if date :zone "CET" "date" "fortnight" "x" { keep; }')
    compile_script('redirect "Bart Simpson <bart@example.com>";')
    compile_script('require "envelope"; if envelope :is "auth" "alice@example.org" { keep; }')
    compile_script('require "variables"; set "h" "subject"; if address :is "${h}" "a@b.c" { keep; }')


def test_a_bad_regex_is_reported_once(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ScriptError, match="invalid regular expression"):
        compile_script('require "regex"; if header :regex "subject" "(" { keep; }')
    assert capfd.readouterr().err == ""
