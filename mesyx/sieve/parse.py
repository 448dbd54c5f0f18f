"""The SIEVE parser: script text to the typed tree of :mod:`mesyx.sieve.ast` (RFC 5228 section 8).

Why our own parser and not a library: the one maintained Python SIEVE library,
``sievelib`` (used by Modoboa), parses into a tree that keeps no positions, checks
commands against its own table while parsing (so an extension it lacks is a syntax error
rather than a validation error) and has no interpreter; the grammar itself is a dozen
lines (section 8.1-8.2), so a hand-written recursive-descent parser is smaller than the
adapter a library would need, keeps line and column on every node, and bounds its work:
the script size, nesting depth and node count are checked here, before any validation,
so a hostile upload costs at most a linear scan.

Lexical rules kept strictly (section 8.1):

- line ends are CRLF; a bare LF is accepted too (scripts saved on Unix), a bare CR is not
  a line end;
- quoted strings: a backslash escapes the next character, whatever it is (section
  2.4.2: ``\\"`` and ``\\\\`` are the only escapes that mean something; any other
  ``\\x`` is ``x``);
- ``text:`` strings end at a line holding a single dot; a line starting with two dots
  loses one (dot-stuffing, section 2.4.2);
- numbers take a K, M or G quantifier (powers of 1024, section 2.4.1) and must fit in
  63 bits;
- the script is UTF-8 (section 2.4.2); invalid UTF-8 is an error at its position.
"""

from __future__ import annotations

from mesyx.errors import ScriptError
from mesyx.sieve.ast import Argument, Command, Number, Position, Script, StringList, Tag, Test
from mesyx.sieve.limits import DEFAULT_LIMITS, Limits

__all__ = ["parse", "decode_script"]

_QUANTIFIERS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_MAX_NUMBER = (1 << 63) - 1
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_REST = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")


def decode_script(data: bytes) -> str:
    """Script bytes as text; invalid UTF-8 is a ScriptError at the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise ScriptError("the script is not valid UTF-8", line, column) from exc


class _Parser:
    """One pass over the text; ``self.at`` is the index of the next unread character."""

    def __init__(self, text: str, limits: Limits) -> None:
        self.text = text
        self.at = 0
        self.line = 1
        self.line_start = 0
        self.limits = limits
        self.nodes = 0

    # -- positions and errors ---------------------------------------------------------

    def position(self) -> Position:
        return Position(self.line, self.at - self.line_start + 1)

    def fail(self, message: str, pos: Position | None = None) -> ScriptError:
        where = pos or self.position()
        return ScriptError(message, where.line, where.column)

    def count_node(self, pos: Position) -> None:
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise self.fail(f"the script has more than {self.limits.nodes} commands, tests and arguments", pos)

    def advance(self, count: int) -> None:
        """Move on ``count`` characters, keeping line numbers (a line ends at LF)."""
        end = self.at + count
        newline = self.text.rfind("\n", self.at, end)
        if newline >= 0:
            self.line += self.text.count("\n", self.at, end)
            self.line_start = newline + 1
        self.at = end

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def describe_next(self) -> str:
        char = self.peek()
        if not char:
            return "the end of the script"
        if char.isprintable() and not char.isspace():
            return f"'{char}'"
        return f"character U+{ord(char):04X}"

    # -- white space and comments (section 8.1) ---------------------------------------

    def skip_space(self) -> None:
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char in " \t\n":
                self.advance(1)
            elif char == "\r":
                if text.startswith("\r\n", self.at):
                    self.advance(2)
                else:
                    raise self.fail("a carriage return must be followed by a line feed")
            elif char == "#":
                end = text.find("\n", self.at)
                self.advance((len(text) if end < 0 else end + 1) - self.at)
            elif text.startswith("/*", self.at):
                start = self.position()
                end = text.find("*/", self.at + 2)
                if end < 0:
                    raise self.fail("the comment is not closed with */", start)
                self.advance(end + 2 - self.at)
            else:
                return

    def expect(self, char: str, what: str) -> None:
        self.skip_space()
        if self.peek() != char:
            raise self.fail(f"expected {what}, found {self.describe_next()}")
        self.advance(1)

    # -- tokens -------------------------------------------------------------------------

    def identifier(self) -> str:
        start = self.at
        if self.peek() not in _IDENT_START or not self.peek():
            raise self.fail(f"expected a command or test name, found {self.describe_next()}")
        end = start + 1
        while end < len(self.text) and self.text[end] in _IDENT_REST:
            end += 1
        self.advance(end - start)
        return self.text[start:end].lower()

    def number(self) -> Number:
        pos = self.position()
        start = end = self.at
        while end < len(self.text) and self.text[end] in _DIGITS:
            end += 1
        value = int(self.text[start:end])
        self.advance(end - start)
        quantifier = self.peek().upper()
        if quantifier in _QUANTIFIERS:
            value *= _QUANTIFIERS[quantifier]
            self.advance(1)
        if value > _MAX_NUMBER:
            raise self.fail("the number is too large", pos)
        if self.peek() in _IDENT_REST and self.peek():
            raise self.fail(f"unexpected {self.describe_next()} after a number")
        return Number(value, pos)

    def quoted_string(self) -> str:
        start = self.position()
        self.advance(1)
        text = self.text
        parts: list[str] = []
        run = self.at
        while True:
            index = self.at
            quote = text.find('"', index)
            slash = text.find("\\", index, quote if quote >= 0 else len(text))
            if quote < 0:
                raise self.fail("the string is not closed with a double quote", start)
            if slash >= 0:
                parts.append(text[run:slash])
                if slash + 1 >= len(text):
                    raise self.fail("the string is not closed with a double quote", start)
                parts.append(text[slash + 1])
                self.advance(slash + 2 - self.at)
                run = self.at
                continue
            parts.append(text[run:quote])
            self.advance(quote + 1 - self.at)
            value = "".join(parts)
            if "\r" in value.replace("\r\n", ""):
                raise self.fail("a carriage return in a string must be followed by a line feed", start)
            return value

    def multiline_string(self) -> str:
        """``text:`` then lines up to a lone dot (section 2.4.2, 8.1 multi-line)."""
        start = self.position()
        self.advance(len("text:"))
        text = self.text
        while self.peek() in (" ", "\t") and self.peek():
            self.advance(1)
        if self.peek() == "#":
            end = text.find("\n", self.at)
            if end < 0:
                raise self.fail("the text: string is not closed with a line holding a single dot", start)
            self.advance(end + 1 - self.at)
        elif text.startswith("\r\n", self.at):
            self.advance(2)
        elif self.peek() == "\n":
            self.advance(1)
        else:
            raise self.fail("text: must be followed by the end of the line")
        lines: list[str] = []
        while True:
            end = text.find("\n", self.at)
            if end < 0:
                raise self.fail("the text: string is not closed with a line holding a single dot", start)
            line = text[self.at : end + 1]
            self.advance(end + 1 - self.at)
            bare = line[:-2] if line.endswith("\r\n") else line[:-1]
            if bare == ".":
                return "".join(lines)
            if "\r" in bare:
                raise self.fail("a carriage return in a string must be followed by a line feed")
            lines.append(line[1:] if line.startswith("..") else line)

    def string(self) -> str:
        if self.peek() == '"':
            return self.quoted_string()
        if self.text.startswith("text:", self.at):
            return self.multiline_string()
        raise self.fail(f"expected a string, found {self.describe_next()}")

    def string_list(self) -> StringList:
        pos = self.position()
        if self.peek() != "[":
            return StringList((self.string(),), False, pos)
        self.advance(1)
        values: list[str] = []
        while True:
            self.skip_space()
            values.append(self.string())
            self.skip_space()
            if self.peek() == ",":
                self.advance(1)
                continue
            if self.peek() == "]":
                self.advance(1)
                return StringList(tuple(values), True, pos)
            raise self.fail(f"expected ',' or ']' in a string list, found {self.describe_next()}")

    def is_string_start(self) -> bool:
        return self.peek() in ('"', "[") or self.text.startswith("text:", self.at)

    # -- grammar (section 8.2) ----------------------------------------------------------

    def arguments(self) -> tuple[Argument, ...]:
        found: list[Argument] = []
        while True:
            self.skip_space()
            pos = self.position()
            char = self.peek()
            if char == ":" and not self.text.startswith("text:", self.at):
                self.advance(1)
                if self.peek() not in _IDENT_START or not self.peek():
                    raise self.fail("expected a tag name after ':'")
                found.append(Tag(self.identifier(), pos))
            elif char in _DIGITS and char:
                found.append(self.number())
            elif self.is_string_start():
                found.append(self.string_list())
            else:
                return tuple(found)
            self.count_node(pos)

    def test(self, depth: int) -> Test:
        self.skip_space()
        pos = self.position()
        if depth > self.limits.nesting:
            raise self.fail(f"tests and blocks are nested deeper than {self.limits.nesting}", pos)
        self.count_node(pos)
        name = self.identifier()
        arguments = self.arguments()
        return Test(name, arguments, self.tests(depth), pos)

    def tests(self, depth: int) -> tuple[Test, ...]:
        """The optional test or parenthesised test list after the arguments."""
        self.skip_space()
        if self.peek() == "(":
            self.advance(1)
            found = [self.test(depth + 1)]
            while True:
                self.skip_space()
                if self.peek() == ",":
                    self.advance(1)
                    found.append(self.test(depth + 1))
                elif self.peek() == ")":
                    self.advance(1)
                    return tuple(found)
                else:
                    raise self.fail(f"expected ',' or ')' in a test list, found {self.describe_next()}")
        if self.peek() in _IDENT_START and self.peek():
            return (self.test(depth + 1),)
        return ()

    def command(self, depth: int) -> Command:
        pos = self.position()
        if depth > self.limits.nesting:
            raise self.fail(f"tests and blocks are nested deeper than {self.limits.nesting}", pos)
        self.count_node(pos)
        name = self.identifier()
        arguments = self.arguments()
        tests = self.tests(depth)
        self.skip_space()
        if self.peek() == ";":
            self.advance(1)
            return Command(name, arguments, tests, None, pos)
        if self.peek() == "{":
            self.advance(1)
            block = self.commands(depth + 1, closing=True)
            return Command(name, arguments, tests, block, pos)
        raise self.fail(f"expected ';' or '{{' after {name}, found {self.describe_next()}")

    def commands(self, depth: int, closing: bool) -> tuple[Command, ...]:
        found: list[Command] = []
        while True:
            self.skip_space()
            if not self.peek():
                if closing:
                    raise self.fail("the block is not closed with '}'")
                return tuple(found)
            if self.peek() == "}":
                if not closing:
                    raise self.fail("'}' without a block to close")
                self.advance(1)
                return tuple(found)
            found.append(self.command(depth))


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> Script:
    """The tree of a script, or ScriptError at the first syntax error (RFC 5228 section 8)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.script_bytes:
        raise ScriptError(f"the script is {size} bytes, more than the limit of {limits.script_bytes}", 1, 1)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        column = text.index("\x00") - (text.rfind("\n", 0, text.index("\x00")) + 1) + 1
        raise ScriptError("the script contains a NUL character", line, column)
    parser = _Parser(text, limits)
    return Script(parser.commands(0, closing=False))
