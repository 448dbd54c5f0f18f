"""Properties of the parser: print/parse round trip, and only clean errors on any input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.errors import ScriptError
from mesyx.sieve import compile_bytes, compile_script
from mesyx.sieve.ast import Script
from mesyx.sieve.parse import parse
from mesyx.sieve.printer import print_script
from tests.sieve.strategies import trees, valid_scripts

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(trees())
def test_print_then_parse_is_the_identity(tree: Script) -> None:
    assert parse(print_script(tree)) == tree


@_SETTINGS
@given(valid_scripts())
def test_generated_scripts_compile_and_round_trip(text: str) -> None:
    compiled = compile_script(text)
    tree = parse(text)
    assert parse(print_script(tree)) == tree
    assert compile_script(print_script(tree)).calls == compiled.calls


def _compile_or_clean_error(data: bytes) -> None:
    try:
        compile_bytes(data)
    except ScriptError as exc:
        assert exc.line >= 1 and exc.column >= 1
        assert "\n" not in exc.message


@_SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_give_a_script_or_a_clean_error(data: bytes) -> None:
    _compile_or_clean_error(data)


@_SETTINGS
@given(valid_scripts(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3), st.binary(max_size=4)),
                                 min_size=1, max_size=6))
def test_mutated_scripts_give_a_script_or_a_clean_error(text: str, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(text.encode("utf-8"))
    for at, drop, insert in edits:
        at %= len(data) + 1
        data[at : at + drop] = insert
    _compile_or_clean_error(bytes(data))


@_SETTINGS
@given(st.text(alphabet=st.sampled_from(list('{}()[],;:"\\ \r\n#/*tex09KifnotruealsXyz')), max_size=120))
def test_token_soup_gives_a_script_or_a_clean_error(text: str) -> None:
    _compile_or_clean_error(text.encode("utf-8"))
