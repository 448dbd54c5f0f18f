"""Write a SIEVE tree back as script text: ``parse(print_script(tree)) == tree``.

Used by the property tests (parse, print, parse is the identity) and wherever Mesyx
writes a script itself (the shipped scripts' generator, ``mesyx sieve`` output). Strings
are always written quoted (RFC 5228 section 2.4.2): a ``text:`` string means the same as
the quoted string with the same characters, so the tree does not keep which form was
used; comments and layout are not part of the tree either. Line ends are CRLF, as RFC
5228 section 8.1 writes them.
"""

from __future__ import annotations

from mesyx.sieve.actions import quote
from mesyx.sieve.ast import Argument, Command, Number, Script, Tag, Test

__all__ = ["print_script"]

_INDENT = "  "


def _argument(argument: Argument) -> str:
    if isinstance(argument, Tag):
        return ":" + argument.name
    if isinstance(argument, Number):
        return str(argument.value)
    if argument.bracketed or len(argument.values) != 1:
        return "[" + ", ".join(quote(value) for value in argument.values) + "]"
    return quote(argument.values[0])


def _test(test: Test) -> str:
    parts = [test.name, *(_argument(a) for a in test.arguments)]
    text = " ".join(parts)
    if len(test.tests) == 1 and test.name == "not":
        return text + " " + _test(test.tests[0])
    if test.tests:
        text += " (" + ", ".join(_test(t) for t in test.tests) + ")"
    return text


def _tests(command: Command) -> str:
    if not command.tests:
        return ""
    if len(command.tests) == 1:
        return " " + _test(command.tests[0])
    return " (" + ", ".join(_test(t) for t in command.tests) + ")"


def _command(command: Command, depth: int, out: list[str]) -> None:
    head = _INDENT * depth + " ".join([command.name, *(_argument(a) for a in command.arguments)]) + _tests(command)
    if command.block is None:
        out.append(head + ";\r\n")
        return
    out.append(head + " {\r\n")
    for inner in command.block:
        _command(inner, depth + 1, out)
    out.append(_INDENT * depth + "}\r\n")


def print_script(script: Script) -> str:
    out: list[str] = []
    for command in script.commands:
        _command(command, 0, out)
    return "".join(out)
