"""The node's configuration: ``<home>/mesyx.toml`` loaded into frozen, typed dataclasses.

Why frozen dataclasses: the daemon and every mode read the configuration concurrently and
must never see it change under them; a typed object also lets mypy catch a misspelt key
at the call site instead of at runtime.

Why a table-driven validator: every key is checked by one walker that reads the
dataclass fields, their types and a small :class:`_Rule` (bounds, choices, a check
function). Adding a key means adding one field; its type check, range check, "unknown
key, did you mean ..." suggestion and error message follow. Every problem is one
:class:`~mesyx.errors.ConfigError` line naming the file, the dotted key and the reason::

    /h/mesyx.toml: smtp.max_message_size: expected a positive integer, got "big"

Every key is documented, with its default and the reason to change it, in
``mesyx.toml.example``; a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import enum
import ipaddress
import json
import math
import re
import shlex
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from mesyx.errors import ConfigError
from mesyx.log import LEVELS

__all__ = [
    "ALL_MODES", "CONFIG_FILE", "PORT_OFFSETS", "Config", "CryptoConfig", "LimitsConfig",
    "LogConfig", "Mode", "NodeConfig", "PortsConfig", "SmtpConfig", "StorageConfig",
    "TlsConfig", "load_config", "parse_config", "render_config",
]  # fmt: skip

#: The file name of the configuration inside a node's home directory.
CONFIG_FILE: Final = "mesyx.toml"


class Mode(enum.StrEnum):
    """The four roles a node can play; each decides which keys the node may hold."""

    ACCEPT = "accept"
    EXCHANGE = "exchange"
    CLIENT = "client"
    REENCRYPT = "reencrypt"


#: Every mode; what ``mesyx init`` enables when no ``--modes`` is given.
ALL_MODES: Final[frozenset[Mode]] = frozenset(Mode)

#: Fixed offset of each listener from ``ports.base`` (DESIGN.md, "Ports"): the familiar
#: port numbers, so ``--port-base 20000`` puts SMTP on 20025 and IMAP on 20143.
PORT_OFFSETS: Final[dict[str, int]] = {
    "smtp": 25, "smtps": 465, "submission": 587, "rest": 80,
    "imap": 143, "imaps": 993, "exchange": 443, "ircgw": 667,
}  # fmt: skip

_MAX_PORT: Final = 65535
_MAX_BASE: Final = _MAX_PORT - max(PORT_OFFSETS.values())
_T = TypeVar("_T")
#: Reports a problem with a key: ``fail("smtp.timeout", "expected ...")``; never returns.
_Fail = Callable[[str, str], typing.NoReturn]


# --------------------------------------------------------------------------- field rules


@dataclass(frozen=True)
class _Rule:
    """What a key accepts beyond its Python type; attached to a field's metadata.

    ``lo``/``hi`` bound numbers (inclusive), ``choices`` limits strings (and the values of
    a string table), ``check`` returns a reason a string is bad (or None), ``derived``
    marks a field with no default of its own that is computed after parsing (the ports),
    and ``secret`` keeps the value out of error messages (a database URL may hold a
    password).
    """

    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    check: Callable[[str], str | None] | None = None
    what: str | None = None
    derived: bool = False
    secret: bool = False


def _key(default: _T, rule: _Rule = _Rule()) -> _T:
    """A field with a default and a validation rule."""
    return field(default=default, metadata={"rule": rule})


def _required(rule: _Rule = _Rule()) -> Any:
    """A field that a config file must set (or that is derived, see ``_Rule.derived``)."""
    return field(metadata={"rule": rule})


_HOST_LABEL_RE: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_DB_URL_RE: Final = re.compile(r"(sqlite|postgresql)(\+[A-Za-z0-9_]+)?://")
_SUBSYSTEM_RE: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\Z")


def _check_hostname(value: str) -> str | None:
    """RFC 1123 host name: it goes into the SMTP banner and EHLO (RFC 5321 4.1.1.1)."""
    if len(value) <= 253 and all(_HOST_LABEL_RE.match(p) for p in value.split(".")):
        return None
    return "expected a host name such as mx.example.org"


def _check_ip(value: str) -> str | None:
    """Listeners bind an address, not a name: resolving names at bind time hides errors."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "expected an IP address such as 127.0.0.1, ::1 or 0.0.0.0"
    return None


def _check_db_url(value: str) -> str | None:
    """Only the two databases the store is tested against; the URL is never echoed."""
    if _DB_URL_RE.match(value):
        return None
    return "expected an SQLAlchemy URL starting with sqlite:// or postgresql://"


def _port() -> Any:
    """A listener port: defaults to ``base`` + its offset in :data:`PORT_OFFSETS`."""
    return _required(_Rule(lo=1, hi=_MAX_PORT, derived=True))


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class NodeConfig:
    """``[node]``: which modes this node runs and how it names and binds itself."""

    modes: frozenset[Mode] = _required()
    hostname: str = _key("localhost", _Rule(check=_check_hostname))
    listen: str = _key("127.0.0.1", _Rule(check=_check_ip))


@dataclass(frozen=True)
class PortsConfig:
    """``[ports]``: every listener at ``base`` + its offset unless set individually."""

    base: int = _required(_Rule(lo=0, hi=_MAX_BASE))
    smtp: int = _port()
    smtps: int = _port()
    submission: int = _port()
    rest: int = _port()
    imap: int = _port()
    imaps: int = _port()
    exchange: int = _port()
    ircgw: int = _port()

    @classmethod
    def from_base(cls, base: int) -> PortsConfig:
        """Every listener at its offset from ``base``, as ``mesyx init --port-base`` does."""
        return cls(base, **{name: base + offset for name, offset in PORT_OFFSETS.items()})

    def listeners(self) -> dict[str, int]:
        """Listener name → port, without ``base``."""
        return {name: int(getattr(self, name)) for name in PORT_OFFSETS}


@dataclass(frozen=True)
class StorageConfig:
    """``[storage]``: where envelopes and operations live."""

    # repr=False: the URL may carry a database password; keep it out of reprs and logs.
    url: str | None = field(
        default=None, repr=False, metadata={"rule": _Rule(check=_check_db_url, secret=True)}
    )
    blob_threshold: int = _key(65536, _Rule(lo=0, hi=2**30))
    group_commit_max: int = _key(512, _Rule(lo=1, hi=100_000))


@dataclass(frozen=True)
class SmtpConfig:
    """``[smtp]``: limits of the accept mode's SMTP listener."""

    max_message_size: int = _key(26_214_400, _Rule(lo=1, hi=2**31))
    # RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
    max_recipients: int = _key(100, _Rule(lo=1, hi=100_000))
    # RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
    timeout: float = _key(300.0, _Rule(lo=1.0, hi=86_400.0, what="a number of seconds"))
    starttls: bool = _key(True)


@dataclass(frozen=True)
class LimitsConfig:
    """``[limits]``: per-minute rate limits; 0 means unlimited."""

    messages_per_sender_per_minute: int = _key(600, _Rule(lo=0, hi=10**9))
    messages_per_client_ip_per_minute: int = _key(3000, _Rule(lo=0, hi=10**9))
    connections_per_client_ip_per_minute: int = _key(600, _Rule(lo=0, hi=10**9))


@dataclass(frozen=True)
class TlsConfig:
    """``[tls]``: a configured certificate chain for people's clients, or the node's own."""

    cert_file: Path | None = _key(None)
    key_file: Path | None = _key(None)


@dataclass(frozen=True)
class CryptoConfig:
    """``[crypto]``: cost of passphrase hashing and how many may run at once."""

    passphrase_kdf: Literal["interactive", "moderate", "sensitive"] = _key("interactive")
    unlock_concurrency: int = _key(2, _Rule(lo=1, hi=64))


@dataclass(frozen=True)
class LogConfig:
    """``[log]``: level, per-subsystem levels and the output format."""

    level: str = _key("info", _Rule(choices=tuple(LEVELS)))
    subsystems: Mapping[str, str] = field(
        default_factory=lambda: types.MappingProxyType({}),
        metadata={"rule": _Rule(choices=tuple(LEVELS))},
    )
    format: Literal["kv", "json"] = _key("kv")


@dataclass(frozen=True)
class Config:
    """The whole configuration of one node, plus where it came from."""

    home: Path
    path: Path
    node: NodeConfig
    ports: PortsConfig
    storage: StorageConfig
    smtp: SmtpConfig
    limits: LimitsConfig
    tls: TlsConfig
    crypto: CryptoConfig
    log: LogConfig

    @property
    def data_dir(self) -> Path:
        """``<home>/data``: the SQLite file and content-addressed blobs."""
        return self.home / "data"

    @property
    def tls_dir(self) -> Path:
        """``<home>/tls``: the node's self-signed P-256 certificate and key."""
        return self.home / "tls"

    @property
    def database_url(self) -> str:
        """``storage.url``, or the SQLite file ``<home>/data/mesyx.sqlite3`` by default."""
        if self.storage.url is not None:
            return self.storage.url
        return f"sqlite:///{(self.data_dir / 'mesyx.sqlite3').absolute()}"


#: Section name → dataclass, in the order errors are looked for: Config's own fields.
_SECTIONS: Final[dict[str, type[Any]]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("home", "path")
}


# --------------------------------------------------------------------------- messages


class _Bad(Exception):
    """A value is wrong; carries the reason and, optionally, a deeper key than the field."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def _show(value: object) -> str:
    """Render a TOML value for an error message: short, one line, TOML-like."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else "a very large integer"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 40 else value[:40] + "...")
    if isinstance(value, list):
        return "an empty array" if not value else "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return f"a date/time {value.isoformat()}"
    return type(value).__name__


def _dotted(*parts: str) -> str:
    """Join key parts TOML-style, quoting parts that are not bare keys."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else json.dumps(p) for p in parts)


def _suggest(name: str, known: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{prefix}{close[0]}"?' if close else ""


def _int_what(rule: _Rule) -> str:
    lo, hi = rule.lo, rule.hi
    if lo is not None and hi is not None and hi < 10**8:
        return f"an integer from {lo:g} to {hi:g}"
    if lo == 1:
        return "a positive integer"
    if lo == 0:
        return "a non-negative integer (0 means none or unlimited)"
    return "an integer"


def _in_range(value: float, rule: _Rule) -> bool:
    return (rule.lo is None or value >= rule.lo) and (rule.hi is None or value <= rule.hi)


def _choice_list(choices: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _as_str(raw: object, rule: _Rule, choices: tuple[str, ...] | None) -> str:
    """A string, checked against ``choices`` and ``rule.check``."""
    if choices is not None:
        if not isinstance(raw, str) or raw not in choices:
            got = "" if rule.secret else f", got {_show(raw)}"
            raise _Bad(f"expected one of {_choice_list(choices)}{got}")
        return raw
    if not isinstance(raw, str):
        raise _Bad(f"expected {rule.what or 'a string'}, got {_show(raw)}")
    if rule.check is not None:
        reason = rule.check(raw)
        if reason is not None:
            raise _Bad(reason if rule.secret else f"{reason}, got {_show(raw)}")
    return raw


def _convert(tp: object, raw: object, rule: _Rule, home: Path) -> object:
    """Turn one raw TOML value into a value of Python type ``tp``, or raise :class:`_Bad`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        # TOML has no null: an optional key is set by writing it, unset by leaving it out.
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, raw, rule, home)
    if tp is bool:
        if not isinstance(raw, bool):
            raise _Bad(f"expected true or false, got {_show(raw)}")
        return raw
    if tp is int:
        what = rule.what or _int_what(rule)
        # bool is a subclass of int in Python, but `true` is not a number in a config.
        if isinstance(raw, bool) or not isinstance(raw, int) or not _in_range(raw, rule):
            raise _Bad(f"expected {what}, got {_show(raw)}")
        return raw
    if tp is float:
        what = rule.what or "a number"
        if rule.lo is not None and rule.hi is not None:
            what = f"{what} from {rule.lo:g} to {rule.hi:g}"
        number = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        if number is None or not math.isfinite(number) or not _in_range(number, rule):
            raise _Bad(f"expected {what}, got {_show(raw)}")
        return number
    if tp is str:
        return _as_str(raw, rule, rule.choices)
    if origin is Literal:
        return _as_str(raw, rule, tuple(str(a) for a in args))
    if tp is Path:
        if not isinstance(raw, str) or not raw or "\0" in raw:
            raise _Bad(f"expected a file path (a non-empty string), got {_show(raw)}")
        path = Path(raw).expanduser()
        # Relative to the home directory, not the working directory the daemon started in.
        return path if path.is_absolute() else home / path
    if origin is frozenset and args == (Mode,):
        return _convert_modes(raw)
    if origin is Mapping and args == (str, str):
        return _convert_str_table(raw, rule)
    raise AssertionError(f"config field type {tp!r} has no converter")  # pragma: no cover


def _convert_modes(raw: object) -> frozenset[Mode]:
    names = [m.value for m in Mode]
    what = f"a non-empty array of modes from {_choice_list(names)}"
    if not isinstance(raw, list) or not raw:
        raise _Bad(f"expected {what}, got {_show(raw)}")
    modes: set[Mode] = set()
    for item in raw:
        if not isinstance(item, str):
            raise _Bad(f"expected {what}, got an array holding {_show(item)}")
        if item not in names:
            raise _Bad(f"unknown mode {_show(item)}{_suggest(item, names)}")
        modes.add(Mode(item))
    return frozenset(modes)


def _convert_str_table(raw: object, rule: _Rule) -> Mapping[str, str]:
    if not isinstance(raw, dict):
        raise _Bad(f"expected a table, got {_show(raw)}")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not _SUBSYSTEM_RE.match(name):
            raise _Bad("expected a subsystem name such as smtp or store", key=name)
        try:
            out[name] = _as_str(value, rule, rule.choices)
        except _Bad as bad:
            raise _Bad(bad.reason, key=name) from None
    return types.MappingProxyType(out)


# --------------------------------------------------------------------------- the walker


def _read_section(
    name: str, cls: type[Any], raw: dict[str, Any], home: Path, fail: _Fail
) -> dict[str, object]:
    """Check the keys of one section against ``cls``'s fields; return converted values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            fail(_dotted(name, key), "unknown key" + _suggest(key, fields, prefix=f"{name}."))
    values: dict[str, object] = {}
    for fname, f in fields.items():
        rule: _Rule = f.metadata.get("rule", _Rule())
        if fname not in raw:
            no_default = f.default is dataclasses.MISSING and (
                f.default_factory is dataclasses.MISSING
            )
            if no_default and not rule.derived:
                fail(_dotted(name, fname), "missing; this key is required")
            continue
        try:
            values[fname] = _convert(hints[fname], raw[fname], rule, home)
        except _Bad as bad:
            parts = (name, fname) if bad.key is None else (name, fname, bad.key)
            fail(_dotted(*parts), bad.reason)
    return values


def _finish_ports(values: dict[str, object], fail: _Fail) -> None:
    """Fill unset listener ports from the base and refuse two listeners on one port."""
    base = values["base"]
    assert isinstance(base, int)
    seen: dict[object, str] = {}
    for listener, offset in PORT_OFFSETS.items():
        values.setdefault(listener, base + offset)
        port = values[listener]
        if port in seen:
            fail(f"ports.{listener}", f"port {port} is also used by ports.{seen[port]}")
        seen[port] = listener


def _finish_tls(values: dict[str, object], fail: _Fail) -> None:
    """A certificate is useless without its key and vice versa: both or neither."""
    if ("cert_file" in values) != ("key_file" in values):
        have, lack = ("cert_file", "key_file")[:: 1 if "cert_file" in values else -1]
        fail(f"tls.{lack}", f"missing; required when tls.{have} is set (set both or neither)")


def _parse_toml(text: str, where: str) -> dict[str, Any]:
    """``tomllib.loads`` with its errors turned into one ConfigError line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "syntax error"
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message)
        reason = f"line {m[2]}, column {m[3]}: invalid TOML: {m[1]}" if m else f"invalid TOML: {message}"
        raise ConfigError(f"{where}: {reason}") from None
    except RecursionError:
        raise ConfigError(f"{where}: invalid TOML: arrays or tables nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal with more than 4300 digits
        raise ConfigError(f"{where}: invalid TOML: {str(exc).splitlines()[0]}") from None


def parse_config(text: str, *, home: Path, path: Path) -> Config:
    """Parse and validate the text of a config file; ``path`` is used in error messages.

    ``home`` anchors relative paths (``tls.cert_file``) and the default data directory.
    Raises :class:`ConfigError` for the first problem found, one line.
    """
    where = str(path)

    def fail(key: str, reason: str) -> typing.NoReturn:
        raise ConfigError(f"{where}: {key}: {reason}")

    data = _parse_toml(text, where)
    for section in data:
        if section not in _SECTIONS:
            fail(_dotted(section), "unknown section" + _suggest(section, _SECTIONS))

    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            fail(section, f"expected a table (a [{section}] section), got {_show(raw)}")
        values = _read_section(section, cls, raw, home, fail)
        if cls is PortsConfig:
            _finish_ports(values, fail)
        elif cls is TlsConfig:
            _finish_tls(values, fail)
        built[section] = cls(**values)
    return Config(home=home, path=path, **built)


def load_config(home: Path) -> Config:
    """Read and validate ``<home>/mesyx.toml``."""
    path = home / CONFIG_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; create it with: mesyx --home {shlex.quote(str(home))} init"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        # utf-8-sig: tolerate the byte-order mark some editors write.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (at byte {exc.start})") from None
    return parse_config(text, home=home, path=path)


# --------------------------------------------------------------------------- init


def render_config(
    *, modes: Iterable[Mode], port_base: int, hostname: str = "localhost"
) -> str:
    """Return the ``mesyx.toml`` that ``mesyx init`` writes.

    Minimal on purpose: only what ``init`` decided is set, so a later Mesyx with better
    defaults improves the node without an edit. The comments point to
    ``mesyx.toml.example`` for everything else. Raises :class:`ConfigError` if the
    arguments would make a file that does not load (an empty mode list, a bad port base).
    """
    chosen = {str(m) for m in modes}
    # Canonical order; anything unknown is kept so that the check below names it.
    names = [m.value for m in Mode if m.value in chosen] + sorted(chosen - set(Mode))
    mode_list = ", ".join(json.dumps(name) for name in names)
    lines = [
        "# Mesyx node configuration, written by `mesyx init`.",
        "#",
        "# Only what differs from the defaults is set here, so that newer defaults apply",
        "# without an edit. Every key, with its default and why you might change it, is",
        "# documented in mesyx.toml.example (top of the Mesyx source tree; share/mesyx/",
        "# where Mesyx is installed). Restart the daemon after a change; a bad key or",
        "# value is reported with its name.",
        "",
        "[node]",
        "# Which roles this node plays: accept, exchange, client, reencrypt.",
        "# Each mode decides which keys the node may hold (see docs/threat-model.md).",
        f"modes = [{mode_list}]",
    ]
    if hostname != "localhost":
        lines += ["# Name used in the SMTP banner and EHLO.", f"hostname = {json.dumps(hostname)}"]
    lines += [
        "",
        "[ports]",
        "# Every listener sits at a fixed offset from base: SMTP +25, REST +80, IMAP +143,",
        "# exchange +443, SMTPS +465, submission +587, IRC gateway +667, IMAPS +993.",
        f"base = {json.dumps(port_base)}",
        "",
    ]
    text = "\n".join(lines)
    parse_config(text, home=Path("."), path=Path(CONFIG_FILE))
    return text
