"""The node's configuration: ``<home>/mesyx.toml`` loaded into frozen, typed dataclasses.

Why frozen dataclasses: the daemon and every mode read the configuration concurrently and
must never see it change under them; a typed object also lets mypy catch a misspelt key
at the call site instead of at runtime.

Every key is checked by the table-driven walker of :mod:`mesyx.tomlspec`, which reads
the dataclass fields below, their types and rules. Adding a key means adding one field;
its type check, range check, "unknown key, did you mean ..." suggestion and error message
follow. Every problem is one :class:`~mesyx.errors.ConfigError` line naming the file, the
dotted key and the reason::

    /h/mesyx.toml: smtp.max_message_size: expected a positive integer, got "big"

Every key is documented, with its default and the reason to change it, in
``mesyx.toml.example``; a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import re
import shlex
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from mesyx.errors import ConfigError
from mesyx.log import LEVELS
from mesyx.tomlspec import (
    Fail,
    Invalid,
    Rule,
    as_str,
    choice_list,
    decode_utf8,
    key,
    parse_toml,
    read_table,
    refuse_unknown,
    reporter,
    required,
    show,
    suggest,
)

__all__ = [
    "ALL_MODES", "CONFIG_FILE", "PORT_OFFSETS", "Config", "CryptoConfig", "ExchangeConfig", "LimitsConfig",
    "LogConfig", "Mode", "NodeConfig", "PortsConfig", "SmtpConfig", "StorageConfig",
    "SubmissionConfig", "TlsConfig", "load_config", "parse_config", "render_config",
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
    "imap": 143, "imaps": 993, "exchange": 443, "ircgw": 667, "managesieve": 4190,
}  # fmt: skip

_MAX_PORT: Final = 65535
_MAX_BASE: Final = _MAX_PORT - max(PORT_OFFSETS.values())


# --------------------------------------------------------------------------- field rules


_HOST_LABEL_RE: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_DB_URL_RE: Final = re.compile(r"(sqlite|postgresql)(\+[A-Za-z0-9_]+)?://")
#: A node id: lower-case unpadded base32 of 20 bytes (mesyx.crypto.node.node_id_of).
_NODE_ID_RE: Final = re.compile(r"[a-z2-7]{32}\Z")
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


def _check_node_id(value: str) -> str | None:
    """A node id as ``mesyx status`` prints it: base32 of 20 bytes (DESIGN.md, Keys)."""
    if _NODE_ID_RE.match(value):
        return None
    return "expected a node id (32 base32 characters, as `mesyx status` prints it)"


def _port() -> Any:
    """A listener port: defaults to ``base`` + its offset in :data:`PORT_OFFSETS`."""
    return required(Rule(lo=1, hi=_MAX_PORT, derived=True))


# --------------------------------------------------------------------------- converters


def _convert_modes(raw: object, rule: Rule) -> frozenset[Mode]:
    """``node.modes``: a non-empty array of mode names, duplicates allowed."""
    names = [m.value for m in Mode]
    what = f"a non-empty array of modes from {choice_list(names)}"
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"expected {what}, got {show(raw)}")
    modes: set[Mode] = set()
    for item in raw:
        if not isinstance(item, str):
            raise Invalid(f"expected {what}, got an array holding {show(item)}")
        if item not in names:
            raise Invalid(f"unknown mode {show(item)}{suggest(item, names)}")
        modes.add(Mode(item))
    return frozenset(modes)


def _convert_subsystems(raw: object, rule: Rule) -> Mapping[str, str]:
    """``log.subsystems``: a table of subsystem name → one of ``rule.choices``."""
    if not isinstance(raw, dict):
        raise Invalid(f"expected a table, got {show(raw)}")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not _SUBSYSTEM_RE.match(name):
            raise Invalid("expected a subsystem name such as smtp or store", key=name)
        try:
            out[name] = as_str(value, rule, rule.choices)
        except Invalid as bad:
            raise Invalid(bad.reason, key=name) from None
    return types.MappingProxyType(out)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class NodeConfig:
    """``[node]``: which modes this node runs and how it names and binds itself."""

    modes: frozenset[Mode] = required(Rule(convert=_convert_modes))
    hostname: str = key("localhost", Rule(check=_check_hostname))
    listen: str = key("127.0.0.1", Rule(check=_check_ip))


@dataclass(frozen=True)
class PortsConfig:
    """``[ports]``: every listener at ``base`` + its offset unless set individually."""

    base: int = required(Rule(lo=0, hi=_MAX_BASE))
    smtp: int = _port()
    smtps: int = _port()
    submission: int = _port()
    rest: int = _port()
    imap: int = _port()
    imaps: int = _port()
    exchange: int = _port()
    ircgw: int = _port()
    managesieve: int = _port()

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
        default=None, repr=False, metadata={"rule": Rule(check=_check_db_url, secret=True)}
    )
    blob_threshold: int = key(65536, Rule(lo=0, hi=2**30))
    group_commit_max: int = key(512, Rule(lo=1, hi=100_000))


@dataclass(frozen=True)
class SmtpConfig:
    """``[smtp]``: limits of the accept mode's SMTP listener."""

    max_message_size: int = key(26_214_400, Rule(lo=1, hi=2**31))
    # RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
    max_recipients: int = key(100, Rule(lo=1, hi=100_000))
    # RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
    timeout: float = key(300.0, Rule(lo=1.0, hi=86_400.0, what="a number of seconds"))
    starttls: bool = key(True)


@dataclass(frozen=True)
class SubmissionConfig:
    """``[submission]``: the client mode's SMTP submission listeners (RFC 6409, RFC 8314)."""

    max_message_size: int = key(26_214_400, Rule(lo=1, hi=2**31))
    max_recipients: int = key(100, Rule(lo=1, hi=100_000))
    # RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
    timeout: float = key(300.0, Rule(lo=1.0, hi=86_400.0, what="a number of seconds"))
    # The node whose box key outbox items are sealed to; unset: this node's own.
    relay_node: str | None = key(None, Rule(check=_check_node_id))


@dataclass(frozen=True)
class ExchangeConfig:
    """``[exchange]``: replication with peers (docs/sync-protocol.md)."""

    # Seconds between rounds with a peer when nothing happens (the safety net).
    anti_entropy_seconds: float = key(30.0, Rule(lo=1.0, hi=86_400.0, what="a number of seconds"))
    # A COMMIT (one transaction at the receiver) about every this many bytes of frames.
    batch_bytes: int = key(4 << 20, Rule(lo=4096, hi=1 << 30))


@dataclass(frozen=True)
class LimitsConfig:
    """``[limits]``: per-minute rate limits; 0 means unlimited."""

    messages_per_sender_per_minute: int = key(600, Rule(lo=0, hi=10**9))
    messages_per_client_ip_per_minute: int = key(3000, Rule(lo=0, hi=10**9))
    connections_per_client_ip_per_minute: int = key(600, Rule(lo=0, hi=10**9))
    failed_logins_per_address_per_minute: int = key(10, Rule(lo=0, hi=10**9))
    failed_logins_per_client_ip_per_minute: int = key(30, Rule(lo=0, hi=10**9))


@dataclass(frozen=True)
class TlsConfig:
    """``[tls]``: a configured certificate chain for people's clients, or the node's own."""

    cert_file: Path | None = key(None)
    key_file: Path | None = key(None)


@dataclass(frozen=True)
class CryptoConfig:
    """``[crypto]``: cost of passphrase hashing and how many may run at once."""

    passphrase_kdf: Literal["interactive", "moderate", "sensitive"] = key("interactive")
    unlock_concurrency: int = key(2, Rule(lo=1, hi=64))
    keyset_policy: str = key("weekly")


@dataclass(frozen=True)
class LogConfig:
    """``[log]``: level, per-subsystem levels and the output format."""

    level: str = key("info", Rule(choices=tuple(LEVELS)))
    subsystems: Mapping[str, str] = field(
        default_factory=lambda: types.MappingProxyType({}),
        metadata={"rule": Rule(choices=tuple(LEVELS), convert=_convert_subsystems)},
    )
    format: Literal["kv", "json"] = key("kv")


@dataclass(frozen=True)
class Config:
    """The whole configuration of one node, plus where it came from."""

    home: Path
    path: Path
    node: NodeConfig
    ports: PortsConfig
    storage: StorageConfig
    smtp: SmtpConfig
    submission: SubmissionConfig
    exchange: ExchangeConfig
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


# --------------------------------------------------------------------------- parsing


def _finish_ports(values: dict[str, object], fail: Fail) -> None:
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


def _finish_tls(values: dict[str, object], fail: Fail) -> None:
    """A certificate is useless without its key and vice versa: both or neither."""
    if ("cert_file" in values) != ("key_file" in values):
        have, lack = ("cert_file", "key_file")[:: 1 if "cert_file" in values else -1]
        fail(f"tls.{lack}", f"missing; required when tls.{have} is set (set both or neither)")


def parse_config(text: str, *, home: Path, path: Path) -> Config:
    """Parse and validate the text of a config file; ``path`` is used in error messages.

    ``home`` anchors relative paths (``tls.cert_file``) and the default data directory.
    Raises :class:`ConfigError` for the first problem found, one line.
    """
    fail = reporter(str(path))
    data = parse_toml(text, str(path))
    refuse_unknown(data, _SECTIONS, fail)
    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        values = read_table(section, cls, data.get(section, {}), fail, base=home)
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
    return parse_config(decode_utf8(data, str(path)), home=home, path=path)


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
        "# exchange +443, SMTPS +465, submission +587, IRC gateway +667, IMAPS +993,",
        "# ManageSieve +4190.",
        f"base = {json.dumps(port_base)}",
        "",
    ]
    text = "\n".join(lines)
    parse_config(text, home=Path("."), path=Path(CONFIG_FILE))
    return text
