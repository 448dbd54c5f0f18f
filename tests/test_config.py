"""Tests of mesyx.config: defaults, ports, every error message, fuzzing, the example file.

The promise under test (DESIGN.md, "Interfaces users touch"): a bad mesyx.toml is
reported as ONE line naming the file, the key and the reason, and nothing but
ConfigError ever escapes, whatever the file holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.config import (
    ALL_MODES,
    PORT_OFFSETS,
    Config,
    CryptoConfig,
    LimitsConfig,
    LogConfig,
    Mode,
    NodeConfig,
    PortsConfig,
    SmtpConfig,
    StorageConfig,
    TlsConfig,
    load_config,
    parse_config,
    render_config,
)
from mesyx.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "mesyx.toml.example"
HOME = Path("/h")
PATH = HOME / "mesyx.toml"

SECTIONS: dict[str, type[typing.Any]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("home", "path")
}
ALL_KEYS = [(s, f.name) for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def doc(extra: str = "", *, node: str = 'modes = ["accept"]', ports: str = "base = 20000") -> str:
    """A config text: [node] and [ports] (the required keys) plus ``extra``."""
    return f"[node]\n{node}\n[ports]\n{ports}\n{extra}\n"


def parse(text: str, home: Path = HOME) -> Config:
    return parse_config(text, home=home, path=home / "mesyx.toml")


# --------------------------------------------------------------------------- defaults


def test_defaults() -> None:
    cfg = parse(doc())
    assert cfg.home == HOME and cfg.path == PATH
    assert cfg.node == NodeConfig(modes=frozenset({Mode.ACCEPT}))
    assert cfg.node.hostname == "localhost" and cfg.node.listen == "127.0.0.1"
    assert cfg.storage == StorageConfig()
    assert cfg.storage.url is None
    assert cfg.storage.blob_threshold == 65536 and cfg.storage.group_commit_max == 512
    assert cfg.smtp == SmtpConfig(
        max_message_size=26214400, max_recipients=100, timeout=300.0, starttls=True
    )
    assert cfg.limits == LimitsConfig(600, 3000, 600)
    assert cfg.tls == TlsConfig(None, None)
    assert cfg.crypto == CryptoConfig("interactive", 2)
    assert cfg.log.level == "info" and cfg.log.format == "kv" and dict(cfg.log.subsystems) == {}
    assert cfg.database_url == "sqlite:////h/data/mesyx.sqlite3"
    assert cfg.data_dir == HOME / "data" and cfg.tls_dir == HOME / "tls"


def test_all_modes_and_enum() -> None:
    assert {Mode("accept"), Mode("exchange"), Mode("client"), Mode("reencrypt")} == ALL_MODES
    cfg = parse(doc(node='modes = ["client", "accept", "client"]'))
    assert cfg.node.modes == {Mode.CLIENT, Mode.ACCEPT}


def test_port_offsets_from_base() -> None:
    cfg = parse(doc(ports="base = 20000"))
    assert cfg.ports.base == 20000
    assert cfg.ports.smtp == 20025 and cfg.ports.imap == 20143 and cfg.ports.imaps == 20993
    assert cfg.ports.listeners() == {k: 20000 + v for k, v in PORT_OFFSETS.items()}
    assert cfg.ports == PortsConfig.from_base(20000)
    assert PORT_OFFSETS == {
        "smtp": 25, "smtps": 465, "submission": 587, "rest": 80,
        "imap": 143, "imaps": 993, "exchange": 443, "ircgw": 667, "managesieve": 4190,
    }  # fmt: skip
    assert [f.name for f in dataclasses.fields(PortsConfig)] == ["base", *PORT_OFFSETS]


def test_port_base_zero_gives_standard_ports() -> None:
    assert parse(doc(ports="base = 0")).ports.listeners() == PORT_OFFSETS


def test_per_port_override() -> None:
    cfg = parse(doc(ports="base = 20000\nimap = 1143\nsmtp = 2525"))
    assert cfg.ports.imap == 1143 and cfg.ports.smtp == 2525
    assert cfg.ports.imaps == 20993  # the others still follow the base


def test_values_set() -> None:
    text = doc(
        '[smtp]\ntimeout = 60\nstarttls = false\n[storage]\nurl = "postgresql://u:pw@db/m"\n'
        '[log]\nlevel = "debug"\nformat = "json"\n[log.subsystems]\nsmtp = "warning"\n'
        '"smtp.session" = "debug"\n[crypto]\npassphrase_kdf = "sensitive"\n',
        node='modes = ["exchange"]\nhostname = "mx.example.org"\nlisten = "::"',
    )
    cfg = parse(text)
    assert cfg.smtp.timeout == 60.0 and isinstance(cfg.smtp.timeout, float)
    assert cfg.smtp.starttls is False
    assert cfg.database_url == "postgresql://u:pw@db/m"
    assert "pw" not in repr(cfg)  # the database password stays out of reprs
    assert cfg.log.level == "debug" and cfg.log.format == "json"
    assert dict(cfg.log.subsystems) == {"smtp": "warning", "smtp.session": "debug"}
    assert cfg.crypto.passphrase_kdf == "sensitive"
    assert cfg.node.hostname == "mx.example.org" and cfg.node.listen == "::"


def test_tls_paths_resolved_against_home(tmp_path: Path) -> None:
    cfg = parse(doc('[tls]\ncert_file = "tls/c.pem"\nkey_file = "/etc/k.pem"'), home=tmp_path)
    assert cfg.tls.cert_file == tmp_path / "tls" / "c.pem"
    assert cfg.tls.key_file == Path("/etc/k.pem")


def test_config_is_frozen() -> None:
    cfg = parse(doc())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.smtp.timeout = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------- errors

ERRORS: list[tuple[str, str, str]] = [
    # (config text, key expected in the message, reason fragment)
    (doc("[smtp]\nmax_message_size = 'big'"), "smtp.max_message_size",
     'expected a positive integer, got "big"'),
    (doc("[smtp]\nmax_recipients = true"), "smtp.max_recipients", "got true"),
    (doc("[smtp]\nmax_recipients = 0"), "smtp.max_recipients", "got 0"),
    (doc("[smtp]\ntimeout = -1.5"), "smtp.timeout", "got -1.5"),
    (doc("[smtp]\ntimeout = nan"), "smtp.timeout", "got nan"),
    (doc("[smtp]\ntimeout = '5m'"), "smtp.timeout", "a number of seconds"),
    (doc("[smtp]\nstarttls = 'yes'"), "smtp.starttls", "expected true or false"),
    (doc("[smtp]\nstarttls = 1"), "smtp.starttls", "expected true or false, got 1"),
    (doc("[limits]\nmessages_per_sender_per_minute = -1"),
     "limits.messages_per_sender_per_minute", "non-negative"),
    (doc("[storage]\nblob_threshold = 1.5"), "storage.blob_threshold", "got 1.5"),
    (doc("[storage]\ngroup_commit_max = [1]"), "storage.group_commit_max", "got an array"),
    (doc("[storage]\nurl = 'mysql://root@db/m'"), "storage.url", "sqlite:// or postgresql://"),
    (doc("[crypto]\nunlock_concurrency = 0"), "crypto.unlock_concurrency", "from 1 to 64"),
    (doc("[crypto]\npassphrase_kdf = 'fast'"), "crypto.passphrase_kdf", '"interactive"'),
    (doc(ports="base = 61346"), "ports.base", "from 0 to 61345, got 61346"),
    (doc(ports="base = -1"), "ports.base", "got -1"),
    (doc(ports="base = '20000'"), "ports.base", 'got "20000"'),
    (doc(ports="base = true"), "ports.base", "got true"),
    (doc(ports="base = 20000\nimap = 70000"), "ports.imap", "from 1 to 65535, got 70000"),
    (doc(ports="base = 20000\nimap = 0"), "ports.imap", "got 0"),
    (doc(ports="base = 20000\nimaps = 20025"), "ports.imaps", "also used by ports.smtp"),
    (doc(ports="bsae = 20000"), "ports.bsae", 'unknown key; did you mean "ports.base"'),
    (doc(ports=""), "ports.base", "missing"),
    ('[node]\nmodes = ["accept"]\n', "ports.base", "missing"),
    (doc(node=""), "node.modes", "missing"),
    (doc(node='modes = ["acept"]'), "node.modes", 'unknown mode "acept"; did you mean "accept"'),
    (doc(node="modes = []"), "node.modes", "non-empty array"),
    (doc(node='modes = "accept"'), "node.modes", 'got "accept"'),
    (doc(node="modes = [1]"), "node.modes", "holding 1"),
    (doc(node='modes = ["accept"]\nlisten = "localhost"'), "node.listen", "IP address"),
    (doc(node='modes = ["accept"]\nlisten = "300.1.1.1"'), "node.listen", "IP address"),
    (doc(node='modes = ["accept"]\nhostname = "bad host"'), "node.hostname", "host name"),
    (doc(node='modes = ["accept"]\nhostname = "-x.org"'), "node.hostname", "host name"),
    (doc("[log]\nlevel = 'verbose'"), "log.level", 'expected one of "debug", "info"'),
    (doc("[log]\nlevel = 'DEBUG'"), "log.level", 'got "DEBUG"'),
    (doc("[log]\nformat = 'xml'"), "log.format", '"kv", "json"'),
    (doc("[log.subsystems]\nsmtp = 'loud'"), "log.subsystems.smtp", 'got "loud"'),
    (doc("[log.subsystems]\n'Bad Name' = 'info'"), 'log.subsystems."Bad Name"', "subsystem"),
    (doc("[log]\nsubsystems = 'smtp'"), "log.subsystems", "expected a table"),
    (doc("[tls]\ncert_file = 'c.pem'"), "tls.key_file", "required when tls.cert_file is set"),
    (doc("[tls]\nkey_file = 'k.pem'"), "tls.cert_file", "required when tls.key_file is set"),
    (doc("[tls]\ncert_file = ''\nkey_file = 'k'"), "tls.cert_file", "file path"),
    (doc("[tls]\ncert_file = 5\nkey_file = 'k'"), "tls.cert_file", "got 5"),
    (doc("[smpt]\ntimeout = 5"), "smpt", 'unknown section; did you mean "smtp"'),
    (doc("[smtp]\nmax_msg_size = 5"), "smtp.max_msg_size",
     'unknown key; did you mean "smtp.max_message_size"'),
    (doc("[smtp]\nzzz = 5"), "smtp.zzz", "unknown key"),
    ("smtp = 5\n" + doc(), "smtp", "expected a table"),
    (doc("[smtp]\ntimeout = 1979-05-27T07:32:00"), "smtp.timeout", "date/time"),
    (doc('["a\\nb"]\nx = 1'), '"a\\nb"', "unknown section"),
]  # fmt: skip


def assert_one_line(message: str, *parts: str) -> None:
    assert "\n" not in message and "\r" not in message
    assert len(message.splitlines()) == 1, message
    for part in parts:
        assert part in message, (part, message)


@pytest.mark.parametrize(("text", "key", "reason"), ERRORS, ids=[k for _, k, _ in ERRORS])
def test_error_is_one_line_with_file_key_reason(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert_one_line(message, str(PATH), key, reason)
    assert message.startswith(f"{PATH}: {key}: "), message


@pytest.mark.parametrize(
    "text",
    ["[node\nmodes = 1", "a = ", "x = 1\nx = 2", "a = " + "[" * 5000, "a = " + "1" * 5000],
    ids=["unclosed-table", "no-value", "duplicate", "deep-nesting", "huge-integer"],
)
def test_toml_syntax_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert_one_line(str(info.value), str(PATH), "invalid TOML")


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        parse('[node]\nmodes = ["accept"]\nhostname = \n')
    assert_one_line(str(info.value), str(PATH), "line 3, column", "invalid TOML")


def test_database_password_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse(doc("[storage]\nurl = 'mysql://root:hunter2@db/m'"))
    assert "hunter2" not in str(info.value)


def test_missing_file_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert_one_line(str(info.value), str(tmp_path / "mesyx.toml"), "mesyx", "init")


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "mesyx.toml").mkdir()  # a directory: unreadable even for root
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert_one_line(str(info.value), str(tmp_path / "mesyx.toml"), "cannot read")


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "mesyx.toml").write_bytes(b'[node]\nhostname = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert_one_line(str(info.value), str(tmp_path / "mesyx.toml"), "UTF-8")


def test_load_config_reads_home(tmp_path: Path) -> None:
    (tmp_path / "mesyx.toml").write_bytes(b"\xef\xbb\xbf" + doc().encode())  # with a BOM
    cfg = load_config(tmp_path)
    assert cfg.path == tmp_path / "mesyx.toml" and cfg.home == tmp_path


# --------------------------------------------------------------------------- fuzzing


def toml_value(value: object) -> str:
    """Serialise a Python value as an inline TOML value (the test's own tiny writer)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    raise TypeError(value)


scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["accept", "debug", "kv", "json", "interactive", "127.0.0.1", "x.org"]),
    st.datetimes(),
    st.dates(),
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(ALL_KEYS), value=toml_values)
def test_junk_value_for_any_key_only_raises_config_error(
    key: tuple[str, str], value: object
) -> None:
    section, name = key
    sections: dict[str, dict[str, object]] = {
        "node": {"modes": ["accept"]},
        "ports": {"base": 1},
    }
    sections.setdefault(section, {})[name] = value
    text = "".join(
        f"[{s}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items())
        for s, body in sections.items()
    )
    try:
        cfg = parse(text)
    except ConfigError as exc:
        assert_one_line(str(exc), str(PATH))
    else:
        assert isinstance(cfg, Config)


@settings(max_examples=300)
@given(
    sections=st.dictionaries(
        st.sampled_from([*SECTIONS, "x", "smpt"]) | st.text(max_size=6),
        st.dictionaries(st.sampled_from([k for _, k in ALL_KEYS]) | st.text(max_size=6),
                        toml_values, max_size=4),
        max_size=5,
    )
)  # fmt: skip
def test_junk_documents_only_raise_config_error(sections: dict[str, dict[str, object]]) -> None:
    text = "".join(
        f"[{json.dumps(s)}]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in b.items())
        for s, b in sections.items()
    )  # fmt: skip
    try:
        parse(text)
    except ConfigError as exc:
        assert_one_line(str(exc), str(PATH))


@settings(max_examples=300)
@given(text=st.text(max_size=200))
def test_junk_text_only_raises_config_error(text: str) -> None:
    try:
        parse(text)
    except ConfigError as exc:
        assert_one_line(str(exc), str(PATH))


@given(base=st.integers(0, 61345))
def test_any_valid_base_loads(base: int) -> None:
    assert parse(doc(ports=f"base = {base}")).ports == PortsConfig.from_base(base)


# --------------------------------------------------------------------------- example, init


def example_sections(text: str) -> dict[str, str]:
    """Split the example into ``{section header: body}``."""
    chunks: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        header = re.fullmatch(r"\[([a-z.]+)\]", line.strip())
        if header:
            current = header[1]
            chunks[current] = ""
        else:
            chunks[current] = chunks.get(current, "") + line + "\n"
    return chunks


def test_example_documents_every_field() -> None:
    chunks = example_sections(EXAMPLE.read_text())
    for section, name in ALL_KEYS:
        field_type = typing.get_type_hints(SECTIONS[section])[name]
        if typing.get_origin(field_type) is Mapping:
            assert f"{section}.{name}" in chunks, f"[{section}.{name}] missing in the example"
            continue
        body = chunks.get(section, "").splitlines()
        found = [i for i, line in enumerate(body) if re.match(rf"#?{name} = ", line)]
        assert found, f"{section}.{name} missing in the example"
        # ... with a comment saying what it does: on the line above, or after the value
        i = found[0]
        assert " # " in body[i] or (i > 0 and body[i - 1].startswith("#")), name
    assert set(chunks) - {""} == set(SECTIONS) | {"log.subsystems"}


def test_example_parses_to_the_defaults(tmp_path: Path) -> None:
    cfg = parse(EXAMPLE.read_text(), home=tmp_path)
    assert cfg.node == NodeConfig(modes=ALL_MODES)
    assert cfg.ports == PortsConfig.from_base(20000)
    assert cfg.storage == StorageConfig()
    assert cfg.smtp == SmtpConfig()
    assert cfg.limits == LimitsConfig()
    assert cfg.tls == TlsConfig()
    assert cfg.crypto == CryptoConfig()
    assert cfg.log == LogConfig()


def test_example_with_every_setting_enabled_parses(tmp_path: Path) -> None:
    """The commented-out ``#key = value`` lines are valid too, and say the defaults."""
    text = re.sub(r"^#(?=[a-z_]+ = )", "", EXAMPLE.read_text(), flags=re.MULTILINE)
    cfg = parse(text, home=tmp_path)
    assert cfg.ports == PortsConfig.from_base(20000)  # documented overrides = the defaults
    assert cfg.tls.cert_file is not None and cfg.storage.url is not None
    assert dict(cfg.log.subsystems) == {"smtp": "debug", "store": "warning"}


@pytest.mark.parametrize("modes", [ALL_MODES, {Mode.ACCEPT}, [Mode.EXCHANGE, Mode.CLIENT]])
def test_render_config_round_trip(tmp_path: Path, modes: typing.Iterable[Mode]) -> None:
    text = render_config(modes=modes, port_base=21000)
    assert "mesyx.toml.example" in text
    cfg = parse(text, home=tmp_path)
    assert cfg.node.modes == frozenset(modes)
    assert cfg.ports == PortsConfig.from_base(21000)
    assert cfg.smtp == SmtpConfig() and cfg.node.hostname == "localhost"
    assert "hostname" not in text  # minimal: only non-default keys are set


def test_render_config_hostname() -> None:
    text = render_config(modes=[Mode.ACCEPT], port_base=0, hostname="mx.example.org")
    assert parse(text).node.hostname == "mx.example.org"


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"modes": [], "port_base": 20000}, "node.modes"),
        ({"modes": ALL_MODES, "port_base": 65000}, "ports.base"),
        ({"modes": ALL_MODES, "port_base": 1, "hostname": 'a" = 1'}, "node.hostname"),
        ({"modes": ["accept", "acept"], "port_base": 1}, 'unknown mode "acept"'),
        ({"modes": ALL_MODES, "port_base": True}, "ports.base"),
    ],
)
def test_render_config_refuses_what_would_not_load(
    kwargs: dict[str, typing.Any], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        render_config(**kwargs)
    assert_one_line(str(info.value), key)
