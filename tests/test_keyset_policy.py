"""Tests of mesyx.keyset_policy: the shipped ``weekly`` policy, policy files, every error.

The promise under test: a bad policy file is reported as ONE ConfigError line naming the
file, the key and the reason, and nothing but ConfigError (or NotFound for a missing
policy) ever escapes, whatever the file holds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.crypto.keysets import ALWAYS, KeysetRole, window_for
from mesyx.errors import ConfigError, NotFound
from mesyx.keyset_policy import KeysetPolicy, RolePolicy, load_policy, parse_policy
from mesyx.shipped import shipped_dir

NOW = dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC).timestamp()
META = '[metadata]\nperiod = "always"\n'
WHERE = "/p/custom.toml"


def parse(text: str) -> KeysetPolicy:
    return parse_policy(text, name="custom", where=WHERE)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and "\r" not in message, message
    return message


# --------------------------------------------------------------------------- weekly


def test_weekly_is_shipped_and_loads_by_name() -> None:
    assert (shipped_dir("keysets") / "weekly.toml").is_file()
    policy = load_policy("weekly")
    assert policy == KeysetPolicy(
        "weekly",
        (
            RolePolicy(KeysetRole.SHORT_TERM, "week", 4),
            RolePolicy(KeysetRole.LONG_TERM, "year", 1),
            RolePolicy(KeysetRole.METADATA, "always", 0),
        ),
    )


def test_weekly_by_path_is_the_same_policy() -> None:
    assert load_policy(str(shipped_dir("keysets") / "weekly.toml")) == load_policy("weekly")


def test_weekly_windows() -> None:
    windows = load_policy("weekly").windows(NOW)
    assert [(role.value, w.label) for role, w in windows] == [
        ("short-term", "2026-W47"),
        ("short-term", "2026-W48"),
        ("short-term", "2026-W49"),
        ("short-term", "2026-W50"),
        ("short-term", "2026-W51"),
        ("long-term", "2026"),
        ("long-term", "2027"),
        ("metadata", "always"),
    ]
    assert windows[0][1] == window_for("week", NOW) and windows[-1][1] == ALWAYS


# --------------------------------------------------------------------------- files


def test_file_order_defaults_and_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (META + '[long_term]\nperiod = "month"\n').encode())  # with a BOM
    policy = load_policy(str(path))
    assert policy.name == "mine"
    assert policy.roles == (
        RolePolicy(KeysetRole.METADATA, "always", 0),
        RolePolicy(KeysetRole.LONG_TERM, "month", 0),  # ahead defaults to 0
    )


def test_ahead_bounds_and_always_ignores_ahead() -> None:
    assert parse('[short_term]\nperiod = "week"\nahead = 520\n' + META).roles[0].ahead == 520
    policy = parse('[short_term]\nperiod = "year"\nahead = 0\n[metadata]\nperiod = "always"\nahead = 3\n')
    assert [w.label for _, w in policy.windows(NOW)] == ["2026", "always"]


def test_unknown_policy_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_policy("no-such-policy")
    with pytest.raises(NotFound):
        load_policy(str(tmp_path / "absent.toml"))


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()  # a directory: unreadable even for root
    with pytest.raises(ConfigError, match=r"dir\.toml: cannot read"):
        load_policy(str(tmp_path / "dir.toml"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b'[metadata]\nperiod = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_policy(str(path))
    assert str(info.value) == f"{path}: not valid UTF-8 (at byte 21)"


# --------------------------------------------------------------------------- errors

ERRORS: list[tuple[str, str]] = [
    ('[short_term]\nperiod = "week"\n',
     "metadata: missing; a policy needs a [metadata] section"),
    (META,
     "short_term: missing; a policy needs a [short_term] or [long_term] section"),
    ('[short_term]\nperiod = "fortnight"\n' + META,
     'short_term.period: expected one of "week", "month", "year", "always", got "fortnight"'),
    ("[short_term]\nahead = 4\n" + META,
     "short_term.period: missing; this key is required"),
    ('[long_term]\nperiod = 7\n' + META,
     'long_term.period: expected one of "week", "month", "year", "always", got 7'),
    ('[short_term]\nperiod = "week"\nahead = -1\n' + META,
     "short_term.ahead: expected an integer from 0 to 520, got -1"),
    ('[short_term]\nperiod = "week"\nahead = 521\n' + META,
     "short_term.ahead: expected an integer from 0 to 520, got 521"),
    ('[short_term]\nperiod = "week"\nahead = true\n' + META,
     "short_term.ahead: expected an integer from 0 to 520, got true"),
    ('[short_term]\nperiod = "week"\nahead = "4"\n' + META,
     'short_term.ahead: expected an integer from 0 to 520, got "4"'),
    ('[short_term]\nperiod = "week"\nahead = 1.5\n' + META,
     "short_term.ahead: expected an integer from 0 to 520, got 1.5"),
    ('[medium_term]\nperiod = "week"\n' + META,
     "medium_term: unknown section"),
    ('[shortterm]\nperiod = "week"\n' + META,
     'shortterm: unknown section; did you mean "short_term"?'),
    ('[zzz]\nperiod = "week"\n' + META,
     "zzz: unknown section"),
    ('[short_term]\nperiod = "week"\nahaed = 4\n' + META,
     'short_term.ahaed: unknown key; did you mean "short_term.ahead"?'),
    ('[short_term]\nperiod = "week"\nxyz = 4\n' + META,
     "short_term.xyz: unknown key"),
    ('short_term = 1\n' + META,
     "short_term: expected a table (a [short_term] section), got 1"),
    ('["a b"]\nperiod = "week"\n' + META,
     '"a b": unknown section'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), ERRORS, ids=[e.split(":")[0] for _, e in ERRORS])
def test_error_is_one_line_with_file_key_reason(text: str, expected: str) -> None:
    assert error_of(text) == f"{WHERE}: {expected}"


@pytest.mark.parametrize(
    ("text", "line"),
    [("[short_term\n", 1), ('[metadata]\nperiod = "always"\n[metadata]\n', 3), ("a = " + "[" * 5000, 1)],
    ids=["unclosed-table", "duplicate-table", "deep-nesting"],
)
def test_toml_syntax_error(text: str, line: int) -> None:
    message = error_of(text)
    assert message.startswith(f"{WHERE}: ") and "invalid TOML" in message
    assert f"line {line}, column " in message or "nested too deeply" in message


def test_load_policy_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text('[short_term]\nperiod = "fortnight"\n' + META, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policy(str(path))
    assert str(info.value).startswith(f"{path}: short_term.period: expected one of ")


# --------------------------------------------------------------------------- fuzzing

values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["week", "month", "year", "always"]),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300)
@given(
    sections=st.dictionaries(
        st.sampled_from(["short_term", "long_term", "metadata", "medium"]) | st.text(max_size=6),
        st.dictionaries(st.sampled_from(["period", "ahead", "behind"]) | st.text(max_size=6), values, max_size=3),
        max_size=4,
    )
)
def test_junk_policies_only_raise_config_error(sections: dict[str, dict[str, object]]) -> None:
    text = "".join(
        f"[{json.dumps(s)}]\n" + "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in body.items())
        for s, body in sections.items()
    )
    try:
        policy = parse(text)
    except ConfigError as exc:
        assert str(exc).startswith(f"{WHERE}: ") and len(str(exc).splitlines()) == 1
    else:
        assert {r.role for r in policy.roles} >= {KeysetRole.METADATA}
        assert all(0 <= r.ahead <= 520 for r in policy.roles)
