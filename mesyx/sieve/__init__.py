"""SIEVE (RFC 5228 and extensions): parse, validate, interpret. Sans-IO: no network, no database.

:func:`compile_script` turns script text into a :class:`CompiledScript` or raises
:class:`~mesyx.errors.ScriptError` with the line and column of the first problem;
:func:`mesyx.sieve.interpret.evaluate` runs one on a message and returns the
:class:`~mesyx.sieve.actions.Outcome`. The accept pipeline, ManageSieve and the
``mesyx sieve`` CLI use only these.
"""

from __future__ import annotations

from mesyx.sieve.limits import DEFAULT_LIMITS, Limits
from mesyx.sieve.parse import decode_script, parse
from mesyx.sieve.signatures import EXTENSIONS
from mesyx.sieve.validate import CompiledScript, validate

__all__ = ["CompiledScript", "EXTENSIONS", "compile_script", "compile_bytes"]


def compile_script(text: str, limits: Limits = DEFAULT_LIMITS) -> CompiledScript:
    """Parse and validate; ScriptError (line, column) at the first problem."""
    return validate(parse(text, limits), limits)


def compile_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> CompiledScript:
    """:func:`compile_script` for bytes as uploaded (ManageSieve, files): UTF-8 checked first."""
    if len(data) > limits.script_bytes:
        return compile_script(data.decode("utf-8", "replace"), limits)
    return compile_script(decode_script(data), limits)
