"""Validate a parsed SIEVE tree and turn it into :class:`~mesyx.sieve.ast.Call` nodes.

Everything that can be known before a message arrives is checked here, so that a script
refused at upload (ManageSieve PUTSCRIPT, ``mesyx sieve check``) is never stored and the
interpreter meets only well-formed calls (RFC 5228 section 2.10.6: errors that can be
found at compile time are reported then). The checks, each with its RFC:

- every command and test exists and its extension is ``require``-d (section 3.2), and
  ``require`` comes before any other command (section 3.2);
- arguments fit the command's signature (:mod:`mesyx.sieve.signatures`): tags before
  positional arguments (section 2.6.2), one tag per group, the right value after each
  tag, the right number and types of positional arguments, a string where a single
  string is wanted (section 2.4.2.1), tests and blocks where they belong (section 2.6.3);
- ``elsif``/``else`` follow an ``if`` (section 3.1);
- comparator names are known and required; a comparator that cannot do substring work
  refuses ``:contains``/``:matches``/``:regex`` (RFC 4790 section 4.2); relational
  operators (RFC 5231 section 4), date parts and zones (RFC 5260 section 4.1-4.2), index
  numbers (RFC 5260 section 6), variable names and namespaces (RFC 5229 section 3), set's
  modifier precedence (RFC 5229 section 4.1), regular expressions (RE2 syntax: linear-time
  matching), header names, the address test's headers (section 5.1), envelope parts
  (section 5.4) and redirect addresses (section 4.2) when they are constant. Date parts
  and zones are not: an unknown one makes the test false at run time, as in Pigeonhole;
- ``${hex:..}`` and ``${unicode:..}`` are decoded when ``encoded-character`` is required
  (section 2.4.2.4): the interpreter sees the decoded strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import re2

from mesyx.errors import ScriptError
from mesyx.sieve.ast import Argument, Call, Command, Number, Position, Script, StringList, Tag, TagValue, Test
from mesyx.sieve.limits import DEFAULT_LIMITS, Limits
from mesyx.sieve.redirect import redirect_address
from mesyx.sieve.signatures import (
    COMMANDS,
    COMPARATORS,
    EXTENSIONS,
    RELATIONS,
    TESTS,
    Kind,
    Signature,
    TagSpec,
    Value,
)

__all__ = ["CompiledScript", "validate"]

#: Capabilities that bring another with them (RFC 5235 section 3.3: spamtestplus
#: extends spamtest; RFC 6131 section 2: vacation-seconds extends vacation).
_IMPLIES = {"spamtestplus": "spamtest", "vacation-seconds": "vacation"}
#: Comparators that can only say equal or ordered, not find substrings (RFC 4790 section 9.1).
_NO_SUBSTRING = frozenset({"i;ascii-numeric"})
_SUBSTRING_MATCHES = frozenset({"contains", "matches", "regex"})
#: Modifier precedence of ``set`` (RFC 5229 section 4.1): one per level.
_MODIFIER_LEVEL = {"lower": 40, "upper": 40, "lowerfirst": 30, "upperfirst": 30,
                   "quotewildcard": 20, "quoteregex": 20, "length": 10}
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_ENCODED = re.compile(r"\$\{(hex|unicode):([\s0-9A-Fa-f]*)\}", re.IGNORECASE)
#: RFC 5228 section 5.4: "from" and "to"; "auth" is the SMTP AUTH identity (RFC 4954
#: section 5's AUTH= parameter), which Pigeonhole accepts too.
_ENVELOPE_PARTS = frozenset({"from", "to", "auth"})
#: RE2 reports a bad pattern through the exception alone, not on stderr as well.
_RE2_QUIET = re2.Options()
_RE2_QUIET.log_errors = False
#: Header fields the address test may look at (RFC 5228 section 5.1: "structured headers
#: that contain addresses"); the list Pigeonhole accepts, so scripts move both ways.
_ADDRESS_HEADERS = frozenset({
    "from", "sender", "reply-to", "to", "cc", "bcc", "resent-from", "resent-sender", "resent-to", "resent-cc",
    "resent-bcc", "resent-reply-to", "return-receipt-to", "errors-to", "delivered-to", "x-original-to",
    "x-beenthere", "mail-followup-to", "mail-reply-to", "apparently-to",
})
#: Tag groups whose chosen tag is the value of the group's key in Call.tags.
_CHOICES = frozenset({"match", "address-part", "size", "transform"})


@dataclass(frozen=True)
class CompiledScript:
    """A validated script: its calls and the capabilities it requires."""

    calls: tuple[Call, ...]
    requires: frozenset[str]
    #: Per-script cache the interpreter may fill (compiled patterns, keyed by id of a Call).
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)


def _shown(text: str) -> str:
    """A script's string inside an error message: quoted, on one line, at most 60 characters."""
    cut = text if len(text) <= 60 else text[:57] + "..."
    return '"' + "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in cut) + '"'


def _error(message: str, pos: Position) -> ScriptError:
    return ScriptError(message, pos.line, pos.column)


def _decode_encoded(text: str, pos: Position) -> str:
    """Expand ``${hex:...}`` / ``${unicode:...}`` (RFC 5228 section 2.4.2.4).

    A sequence that does not fit the grammar stays as written; hex octets must make
    UTF-8 and unicode code points must be scalar values, or the script is refused.
    """

    def expand(match: re.Match[str]) -> str:
        kind, digits = match.group(1).lower(), match.group(2).split()
        if not digits:
            return match.group(0)
        if kind == "hex":
            if any(len(d) > 2 for d in digits):
                return match.group(0)
            try:
                return bytes(int(d, 16) for d in digits).decode("utf-8")
            except UnicodeDecodeError:
                raise _error("encoded-character: the hex octets are not UTF-8", pos) from None
        chars = []
        for digit in digits:
            point = int(digit, 16)
            if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
                raise _error(f"encoded-character: U+{point:X} is not a Unicode character", pos)
            chars.append(chr(point))
        return "".join(chars)

    return _ENCODED.sub(expand, text) if "${" in text else text


class _Validator:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.requires: set[str] = set()

    # -- helpers ------------------------------------------------------------------------

    def need(self, extension: str | None, what: str, pos: Position) -> None:
        if extension is not None and extension not in self.requires:
            raise _error(f"{what} needs require \"{extension}\"", pos)

    def constant(self, value: str) -> bool:
        """A string whose value is known now (no variable to expand at run time)."""
        return "variables" not in self.requires or "${" not in value

    def strings(self, argument: StringList) -> tuple[str, ...]:
        if "encoded-character" not in self.requires:
            return argument.values
        return tuple(_decode_encoded(v, argument.pos) for v in argument.values)

    def value(self, wanted: Value, argument: Argument, what: str) -> str | int | tuple[str, ...]:
        """The value of an argument of the type ``wanted``, or a ScriptError."""
        if wanted is Value.NUMBER:
            if isinstance(argument, Number):
                return argument.value
        elif isinstance(argument, StringList):
            if wanted is Value.STRING_LIST:
                return self.strings(argument)
            if not argument.bracketed and len(argument.values) == 1:
                return self.strings(argument)[0]
            raise _error(f"{what} takes a single string, not a string list", argument.pos)
        found = "a tag" if isinstance(argument, Tag) else "a number" if isinstance(argument, Number) else "a string"
        raise _error(f"{what} takes {wanted.value}, found {found}", argument.pos)

    # -- one command or test --------------------------------------------------------------

    def arguments(
        self, signature: Signature, arguments: tuple[Argument, ...], pos: Position
    ) -> tuple[dict[str, TagValue], tuple[tuple[str, ...] | int, ...]]:
        tags: dict[str, TagValue] = {}
        chosen: dict[str, str] = {}
        known = {spec.name: spec for spec in signature.tags}
        index = 0
        while index < len(arguments) and isinstance(arguments[index], Tag):
            tag = arguments[index]
            assert isinstance(tag, Tag)
            spec = known.get(tag.name)
            if spec is None:
                raise _error(f"{signature.name} has no tag :{tag.name}", tag.pos)
            self.need(spec.requires, f":{tag.name}", tag.pos)
            key = spec.group or spec.name
            if key in chosen:
                earlier = chosen[key]
                what = f":{tag.name} twice" if earlier == tag.name else f":{earlier} and :{tag.name} together"
                raise _error(f"{signature.name} takes {what}", tag.pos)
            chosen[key] = tag.name
            index += 1
            if spec.value is Value.NONE:
                tags[key if key in _CHOICES else tag.name] = tag.name if key in _CHOICES else True
                continue
            if index >= len(arguments):
                raise _error(f":{tag.name} takes {spec.value.value}", tag.pos)
            value = self.value(spec.value, arguments[index], f":{tag.name}")
            index += 1
            self.store_tag(tags, spec, value)
        rest = arguments[index:]
        for argument in rest:
            if isinstance(argument, Tag):
                raise _error(f"tag :{argument.name} must come before the positional arguments", argument.pos)
        wanted = signature.positional
        if len(rest) < len(wanted) - signature.optional_leading or len(rest) > len(wanted):
            least = len(wanted) - signature.optional_leading
            count = f"{least} or {len(wanted)}" if least != len(wanted) else str(least)
            raise _error(f"{signature.name} takes {count} positional arguments, found {len(rest)}", pos)
        wanted = wanted[len(wanted) - len(rest) :]
        positional = tuple(self.value(w, a, signature.name) for w, a in zip(wanted, rest, strict=True))
        return tags, positional  # type: ignore[return-value]

    @staticmethod
    def store_tag(tags: dict[str, TagValue], spec: TagSpec, value: str | int | tuple[str, ...]) -> None:
        if spec.group == "match":
            tags["match"] = spec.name
            tags["relation"] = value
        elif spec.group == "transform":
            tags["transform"] = spec.name
            tags["content"] = value
        else:
            tags[spec.name] = value

    def check_matching(self, name: str, tags: dict[str, TagValue], keys: tuple[str, ...], pos: Position) -> None:
        """Comparator, match type, relational operator and regex of a match test."""
        comparator = str(tags.setdefault("comparator", "i;ascii-casemap"))
        if comparator not in COMPARATORS:
            raise _error(f"unknown comparator {_shown(comparator)}", pos)
        self.need(COMPARATORS[comparator], f"comparator {_shown(comparator)}", pos)
        match = str(tags.setdefault("match", "is"))
        if comparator in _NO_SUBSTRING and match in _SUBSTRING_MATCHES:
            raise _error(f"comparator {_shown(comparator)} cannot do :{match} matching", pos)
        if match in ("value", "count"):
            relation = str(tags["relation"])
            if self.constant(relation) and relation.lower() not in RELATIONS:
                raise _error(f"{_shown(relation)} is not a relational operator (gt, ge, lt, le, eq, ne)", pos)
            tags["relation"] = relation.lower()
        if match == "regex":
            for key in keys:
                if not self.constant(key):
                    continue
                if len(key) > self.limits.regex_size:
                    raise _error(f"the regular expression is longer than {self.limits.regex_size} characters", pos)
                try:
                    re2.compile(key, _RE2_QUIET)
                except re2.error as exc:
                    problem = f"{name}: invalid regular expression {_shown(key)}: {_shown(str(exc))}"
                    raise _error(problem, pos) from None

    def check_semantics(self, call: Call) -> None:
        name, tags, args, pos = call.name, call.tags, call.positional, call.pos
        if name in ("header", "address", "envelope", "string", "hasflag", "body", "date", "currentdate", "spamtest"):
            keys = args[-1] if args and isinstance(args[-1], tuple) else ()
            self.check_matching(name, tags, keys, pos)
        if name in ("address", "envelope"):
            tags.setdefault("address-part", "all")
        if name == "body":
            tags.setdefault("transform", "text")
        if "last" in tags and "index" not in tags:
            raise _error(":last needs :index", pos)
        if isinstance(index := tags.get("index"), int) and not isinstance(index, bool) and index < 1:
            raise _error(":index counts from 1", pos)
        if name in ("header", "address", "exists", "date"):
            names = args[0] if isinstance(args[0], tuple) else (args[0],)
            for header in names:
                if isinstance(header, str) and self.constant(header) and not _FIELD_NAME.fullmatch(header):
                    raise _error(f"{_shown(header)} is not a valid header field name", pos)
        if name == "address":
            headers = args[0]
            assert isinstance(headers, tuple)
            for header in headers:
                if self.constant(header) and header.lower() not in _ADDRESS_HEADERS:
                    raise _error(f"header {_shown(header)} holds no addresses: the address test cannot use it"
                                 " (RFC 5228 section 5.1)", pos)
        if name == "envelope":
            parts = args[0]
            assert isinstance(parts, tuple)
            for part in parts:
                if self.constant(part) and part.lower() not in _ENVELOPE_PARTS:
                    raise _error(f"envelope part {_shown(part)} is not supported (from, to, auth)", pos)
        if name == "size" and "size" not in tags:
            raise _error("size takes :over or :under", pos)
        if name == "set":
            self.check_variable(str(args[0]), pos)
            levels = [_MODIFIER_LEVEL[t] for t in tags]
            if len(levels) != len(set(levels)):
                raise _error("set takes one modifier of each precedence (RFC 5229 section 4.1)", pos)
        if name in ("setflag", "addflag", "removeflag") and len(args) == 2:
            self.check_variable(str(args[0]), pos)
        if name == "hasflag" and len(args) == 2:
            variables = args[0]
            assert isinstance(variables, tuple)
            for variable in variables:
                self.check_variable(variable, pos)
        if name == "redirect":
            address = str(args[0])
            if self.constant(address) and redirect_address(address) is None:
                raise _error(f"redirect: {_shown(address)} is not a valid address", pos)

    def check_variable(self, name: str, pos: Position) -> None:
        """A variable name (RFC 5229 section 3); ``a.b`` names namespace ``a``, and Mesyx has none."""
        if not self.constant(name):
            return
        if not _VARIABLE_NAME.fullmatch(name):
            raise _error(f"{_shown(name)} is not a valid variable name", pos)
        if "." in name:
            raise _error(f"unknown variable namespace {_shown(name.partition('.')[0])}", pos)

    # -- trees ------------------------------------------------------------------------

    def signature(self, node: Test | Command) -> Signature:
        """The signature of a test or command, its extension required (RFC 5228 section 3.2)."""
        kind, table, other, other_kind = (
            ("test", TESTS, COMMANDS, "command") if isinstance(node, Test) else ("command", COMMANDS, TESTS, "test")
        )
        signature = table.get(node.name)
        if signature is None:
            if node.name in other:
                raise _error(f"{node.name} is a {other_kind}, not a {kind}", node.pos)
            raise _error(f"unknown {kind} {_shown(node.name)}", node.pos)
        self.need(signature.requires, f"the {node.name} {kind}", node.pos)
        return signature

    def call(self, node: Test | Command, signature: Signature, block: tuple[Call, ...] = ()) -> Call:
        tags, positional = self.arguments(signature, node.arguments, node.pos)
        tests = self.nested(signature, node.tests, node.pos)
        call = Call(node.name, node.pos, tags, positional, tests, block)
        self.check_semantics(call)
        return call

    def test(self, test: Test) -> Call:
        return self.call(test, self.signature(test))

    def nested(self, signature: Signature, tests: tuple[Test, ...], pos: Position) -> tuple[Call, ...]:
        if signature.tests == 0 and tests:
            raise _error(f"{signature.name} takes no test", tests[0].pos)
        if signature.tests == 1 and len(tests) != 1:
            raise _error(f"{signature.name} takes one test", pos)
        if signature.tests == -1 and not tests:
            raise _error(f"{signature.name} takes a list of tests", pos)
        return tuple(self.test(t) for t in tests)

    def command(self, command: Command) -> Call:
        signature = self.signature(command)
        control = signature.kind is Kind.CONTROL
        if control and command.block is None:
            raise _error(f"{command.name} takes a block in braces", command.pos)
        if not control and command.block is not None:
            raise _error(f"{command.name} takes no block: end it with ';'", command.pos)
        return self.call(command, signature, self.block(command.block or ()))

    def block(self, commands: tuple[Command, ...]) -> tuple[Call, ...]:
        """Validate a sequence, folding each ``elsif``/``else`` into its ``if`` (section 3.1)."""
        calls: list[Call] = []
        chain: list[Call] = []
        for command in commands:
            if command.name == "require":
                raise _error("require must come before any other command", command.pos)
            call = self.command(command)
            if command.name in ("elsif", "else"):
                if not chain:
                    raise _error(f"{command.name} must follow if or elsif", command.pos)
                chain.append(call)
                if command.name == "else":
                    calls.append(_fold_chain(chain))
                    chain = []
                continue
            if chain:
                calls.append(_fold_chain(chain))
                chain = []
            if command.name == "if":
                chain = [call]
            else:
                calls.append(call)
        if chain:
            calls.append(_fold_chain(chain))
        return tuple(calls)

    def script(self, script: Script) -> CompiledScript:
        commands = script.commands
        start = 0
        while start < len(commands) and commands[start].name == "require":
            command = commands[start]
            signature = COMMANDS["require"]
            _, positional = self.arguments(signature, command.arguments, command.pos)
            self.nested(signature, command.tests, command.pos)
            if command.block is not None:
                raise _error("require takes no block: end it with ';'", command.pos)
            names = positional[0]
            assert isinstance(names, tuple)
            for name in names:
                if name.lower() not in EXTENSIONS:
                    raise _error(f"unsupported extension {_shown(name)}", command.pos)
                self.requires.add(name.lower())
                if name.lower() in _IMPLIES:
                    self.requires.add(_IMPLIES[name.lower()])
            start += 1
        calls = self.block(commands[start:])
        return CompiledScript(calls, frozenset(self.requires))


def _fold_chain(chain: list[Call]) -> Call:
    """``if A {..} elsif B {..} else {..}`` as one Call with nested ``orelse`` links."""
    folded: Call | None = None
    for call in reversed(chain):
        folded = Call(call.name, call.pos, call.tags, call.positional, call.tests, call.block, folded)
    assert folded is not None
    return folded


def validate(script: Script, limits: Limits = DEFAULT_LIMITS) -> CompiledScript:
    """The calls of a parsed script, or ScriptError at the first thing wrong."""
    return _Validator(limits).script(script)
