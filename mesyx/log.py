"""Structured logging for Mesyx: typed event names, key=value fields, secrets redacted.

Every part of Mesyx logs through :func:`get_logger`, which hands out an
:class:`EventLogger` bound to one *subsystem* (``smtp``, ``store``, ``exchange`` …). A call
names an *event*, a short dotted identifier that operators can grep and alert on, plus
fields::

    log = get_logger("smtp")
    log.info("listening", addr="127.0.0.1", port=20025)

renders, in the default ``kv`` format, as one line on stderr::

    2026-11-23T10:00:00.123Z info smtp listening addr=127.0.0.1 port=20025

and in the ``json`` format as one JSON object per line. Logs go to stderr so that output
meant for scripts (``--json``) owns stdout alone (DESIGN.md, "Interfaces users touch").

Why the redaction lives here and not at each call site: a node's log is the one file an
operator pastes into a bug report, and a single forgotten field would leak a passphrase or
a key. So the formatter, not the caller, decides: fields whose *name* says they hold a
secret print as ``<redacted>``, bytes never print raw (``<32 bytes>``), and objects that
convert to bytes (PyNaCl keys) print only their type. Values are quoted and escaped so
that one event is one line and no field can forge another line (log injection).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import logging
import math
import re
import secrets
import sys
import traceback
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Final, TextIO

from mesyx.errors import UsageError

__all__ = [
    "FORMATS",
    "LEVELS",
    "EventLogger",
    "get_logger",
    "is_secret_field",
    "new_error_id",
    "render_value",
    "setup_logging",
]

#: Level names a config file or command line may use, mapped to stdlib levels. Kept to
#: four because operators think in these four; "critical" adds nothing a daemon acts on.
LEVELS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "debug": logging.DEBUG,
        "info": logging.INFO,
        "warning": logging.WARNING,
        "error": logging.ERROR,
    }
)

#: Output formats: ``kv`` for people and grep, ``json`` for log collectors.
FORMATS: Final[frozenset[str]] = frozenset({"kv", "json"})

#: The stdlib logger that is the parent of every subsystem's logger.
ROOT_NAME: Final = "mesyx"

_NO_SUBSYSTEMS: Final[Mapping[str, str]] = MappingProxyType({})

# Attribute names stored on a LogRecord by EventLogger (via ``extra``); prefixed so they
# cannot collide with the stdlib's own record attributes.
_EVENT_ATTR: Final = "mesyx_event"
_FIELDS_ATTR: Final = "mesyx_fields"

# Field-name fragments that mark a secret. Matched against the lower-cased name, so
# ``smtp_password``, ``passphrase_file_contents`` and ``master_key`` are all caught.
_SECRET_FRAGMENTS: Final = (
    "passphrase",
    "password",
    "passwd",
    "secret",
    "token",
    "private",
    "master_key",
    "content_key",
    "signing_key",
    "seed",
    "credential",
)
# Names that look like key material but identify or describe it instead: ``keyset_id``,
# ``key_id``, ``public_key`` and ``key_file`` are what an operator needs to see.
_PUBLIC_SUFFIXES: Final = ("_id", "_ids", "public_key", "pubkey", "_file", "_path", "_count")


class _Marker(str):
    """Text Mesyx put in place of a value (``<redacted>``, ``<32 bytes>``): never quoted."""

    __slots__ = ()


_REDACTED: Final = _Marker("<redacted>")
# Longest rendering of one value; a runaway field (a whole message) must not flood the log.
_MAX_VALUE_CHARS: Final = 2000
# How deep nested lists/dicts are rendered before they are summarised.
_MAX_DEPTH: Final = 4
_EVENT_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*\Z")
_FIELD_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
# Characters that force quoting in the kv format: whitespace, the separators, quotes,
# backslashes; non-printable characters are tested separately.
_NEEDS_QUOTES_RE: Final = re.compile(r'[\s="\\\']')


def is_secret_field(name: str) -> bool:
    """Tell whether a field called ``name`` must be rendered as ``<redacted>``.

    Decided by name so that the rule is visible and testable in one place: any name
    containing a secret fragment (passphrase, password, secret, token, private, seed,
    master_key, content_key, signing_key, credential), plus ``key`` itself and names ending
    in ``_key`` (``box_key``, ``api_key``), except names that only identify or describe key
    material (``keyset_id``, ``key_id``, ``public_key``, ``key_file``).
    """
    lowered = name.lower()
    if lowered.endswith(_PUBLIC_SUFFIXES):
        return False
    if any(fragment in lowered for fragment in _SECRET_FRAGMENTS):
        return True
    return lowered == "key" or lowered.endswith("_key")


def new_error_id() -> str:
    """Return a short random id (8 lower-case base32 characters) for an internal error.

    Edges log the full error with this id and show the person only the id, so nothing
    internal (paths, tracebacks, key names) reaches a client while the operator can still
    find the details: 40 random bits make collisions within one log irrelevant.
    """
    return base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()


# --------------------------------------------------------------------------- rendering


def _describe_exception(exc: BaseException) -> str:
    """``TypeName: message``: enough to recognise an error without its traceback."""
    message = str(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _plain(value: object, depth: int = 0) -> object:
    """Turn ``value`` into JSON-compatible data with secrets and bytes made harmless.

    Shared by both formats so that kv and json can never disagree on what is redacted.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity; print them as words rather than fail.
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _Marker(f"<{len(value)} bytes>")
    if isinstance(value, BaseException):
        return _describe_exception(value)
    if depth >= _MAX_DEPTH:
        return _Marker(f"<{type(value).__name__}>")
    if isinstance(value, Mapping):
        return {
            str(k): (_REDACTED if is_secret_field(str(k)) else _plain(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_plain(item, depth + 1) for item in items]
    if hasattr(value, "__bytes__"):
        # PyNaCl keys and similar: their str() may be the raw key; show only the type.
        return _Marker(f"<{type(value).__name__}>")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the log line
        return _Marker(f"<{type(value).__name__}>")


def _clip(text: str) -> str:
    """Cut overlong values so one field cannot flood the log."""
    if len(text) <= _MAX_VALUE_CHARS:
        return text
    return text[:_MAX_VALUE_CHARS] + f"…(+{len(text) - _MAX_VALUE_CHARS} chars)"


def _quote_kv(text: str) -> str:
    """Quote ``text`` for the kv format when it would otherwise be ambiguous.

    Quoted strings use JSON escapes, and every non-printable character (newline, NUL,
    U+2028, …) is escaped, so one event stays one line whatever a peer sent us.
    """
    if text and not _NEEDS_QUOTES_RE.search(text) and text.isprintable():
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    # Rare: a line break JSON leaves alone (U+2028, NEL) or another non-printable.
    return quoted if quoted.isprintable() else json.dumps(text, ensure_ascii=True)


def render_value(name: str, value: object) -> str:
    """Render one field's value as it appears after ``name=`` in the kv format."""
    if is_secret_field(name):
        return _REDACTED
    plain = _plain(value)
    if plain is None:
        return "null"
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, int | float):
        return repr(plain)
    if isinstance(plain, _Marker):
        return plain
    if isinstance(plain, str):
        return _quote_kv(_clip(plain))
    return _quote_kv(_clip(json.dumps(plain, ensure_ascii=False, separators=(",", ":"))))


def _timestamp(record: logging.LogRecord) -> str:
    """UTC, millisecond precision, ``Z`` suffix: sortable and unambiguous across nodes."""
    moment = _dt.datetime.fromtimestamp(record.created, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _level_name(record: logging.LogRecord) -> str:
    return record.levelname.lower()


def _subsystem(record: logging.LogRecord) -> str:
    """``mesyx.smtp`` → ``smtp``; foreign loggers (aiosmtpd, asyncio) keep their name."""
    if record.name.startswith(ROOT_NAME + "."):
        return record.name[len(ROOT_NAME) + 1 :]
    return record.name


def _event_and_fields(record: logging.LogRecord) -> tuple[str, dict[str, object]]:
    """Recover the event and fields; foreign records become event ``message`` + ``msg``."""
    event = getattr(record, _EVENT_ATTR, None)
    fields = getattr(record, _FIELDS_ATTR, None)
    if isinstance(event, str) and isinstance(fields, dict):
        return event, dict(fields)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - bad %-args in a library's log call
        message = str(record.msg)
    return "message", {"msg": message}


def _exception_parts(record: logging.LogRecord) -> tuple[str | None, str | None]:
    """The one-line ``Type: message`` and the full traceback text of a record, if any."""
    info = record.exc_info
    if not info or info[1] is None:
        return None, None
    exc = info[1]
    lines = traceback.format_exception(type(exc), exc, info[2])
    return _describe_exception(exc), "".join(lines).rstrip("\n")


class _KvFormatter(logging.Formatter):
    """``<time> <level> <subsystem> <event> k=v ...``, traceback on indented lines."""

    def format(self, record: logging.LogRecord) -> str:
        event, fields = _event_and_fields(record)
        error, trace = _exception_parts(record)
        if error is not None and "error" not in fields:
            fields["error"] = error
        if not _EVENT_RE.match(event):
            event = _quote_kv(event)
        parts = [_timestamp(record), _level_name(record), _quote_kv(_subsystem(record)), event]
        parts.extend(
            f"{name if _FIELD_RE.match(name) else _quote_kv(name)}={render_value(name, value)}"
            for name, value in fields.items()
        )
        line = " ".join(parts)
        if trace is not None:
            # Continuation lines start with "  | " so line-oriented tools can tell them
            # from events; the traceback is what the operator looks up by error id.
            line += "".join(f"\n  | {text}" for text in trace.splitlines())
        return line


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``subsystem``, ``event``, fields."""

    _RESERVED = frozenset({"ts", "level", "subsystem", "event", "traceback"})

    def format(self, record: logging.LogRecord) -> str:
        event, fields = _event_and_fields(record)
        error, trace = _exception_parts(record)
        if error is not None and "error" not in fields:
            fields["error"] = error
        obj: dict[str, object] = {
            "ts": _timestamp(record),
            "level": _level_name(record),
            "subsystem": _subsystem(record),
            "event": event,
        }
        for name, value in fields.items():
            # A field named like a reserved key is kept, renamed, rather than dropped.
            key = f"field_{name}" if name in self._RESERVED else name
            obj[key] = _REDACTED if is_secret_field(name) else _plain(value)
        if trace is not None:
            obj["traceback"] = trace
        # ensure_ascii: U+2028 and friends split lines for some readers; escape them all.
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


class _MesyxHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`setup_logging` installs; its class marks it for replacement."""


# --------------------------------------------------------------------------- loggers


_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class EventLogger:
    """A thin wrapper over one stdlib logger that logs events with typed fields.

    Why a wrapper rather than the stdlib API: ``logger.info("x %s", y)`` invites free-text
    messages that nobody can grep or redact; here every call is ``event`` + fields, and
    disabled levels cost one integer comparison (the ingest path logs per message).
    """

    __slots__ = ("_context", "_logger")

    def __init__(self, logger: logging.Logger, context: Mapping[str, object] | None = None):
        self._logger = logger
        self._context: dict[str, object] = dict(context or {})

    @property
    def name(self) -> str:
        """The stdlib logger name, ``mesyx.<subsystem>``."""
        return self._logger.name

    def bind(self, **fields: object) -> EventLogger:
        """Return a logger that adds ``fields`` to every event (e.g. an SMTP session id)."""
        return EventLogger(self._logger, {**self._context, **fields})

    def enabled(self, level: str) -> bool:
        """Tell whether ``level`` events would be logged, to skip costly field building."""
        return self._logger.isEnabledFor(LEVELS[level])

    def _emit(
        self,
        level: int,
        event: str,
        fields: Mapping[str, object],
        exc_info: _ExcInfo | None = None,
    ) -> None:
        merged = {**self._context, **fields} if self._context else dict(fields)
        self._logger.log(
            level,
            event,
            exc_info=exc_info,
            extra={_EVENT_ATTR: event, _FIELDS_ATTR: merged},
            stacklevel=3,
        )

    def debug(self, event: str, /, **fields: object) -> None:
        """Log a detail useful only while chasing a problem."""
        if self._logger.isEnabledFor(logging.DEBUG):
            self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, /, **fields: object) -> None:
        """Log a normal, noteworthy event (listening, accepted, synced)."""
        if self._logger.isEnabledFor(logging.INFO):
            self._emit(logging.INFO, event, fields)

    def warning(self, event: str, /, **fields: object) -> None:
        """Log something unexpected that Mesyx handled (a refused peer, a retry)."""
        if self._logger.isEnabledFor(logging.WARNING):
            self._emit(logging.WARNING, event, fields)

    def error(self, event: str, /, **fields: object) -> None:
        """Log a failure that needs an operator's attention."""
        if self._logger.isEnabledFor(logging.ERROR):
            self._emit(logging.ERROR, event, fields)

    def exception(self, event: str, /, **fields: object) -> None:
        """Log the exception being handled at error level.

        The event line always carries ``error="Type: message"``; the full traceback is
        attached to the record, so the daemon log holds it (on ``  | `` continuation lines
        in kv, in a ``traceback`` key in json) for the operator who looks up an error id.
        Called outside an ``except`` block it logs a plain error event.
        """
        if not self._logger.isEnabledFor(logging.ERROR):
            return
        info = sys.exc_info()
        exc_info: _ExcInfo | None = None
        if info[0] is not None and info[1] is not None:
            exc_info = (info[0], info[1], info[2])
        self._emit(logging.ERROR, event, fields, exc_info)


def get_logger(subsystem: str) -> EventLogger:
    """Return the event logger of ``subsystem`` (stdlib logger ``mesyx.<subsystem>``).

    Dotted subsystems (``smtp.session``) inherit the level of their parent (``smtp``).
    """
    return EventLogger(logging.getLogger(f"{ROOT_NAME}.{subsystem}"))


def _level(value: str, what: str) -> int:
    try:
        return LEVELS[value]
    except KeyError:
        raise UsageError(
            f"{what}: unknown log level {value!r}; use one of {', '.join(LEVELS)}"
        ) from None


_configured_subsystems: set[str] = set()


def setup_logging(
    level: str = "info",
    subsystems: Mapping[str, str] = _NO_SUBSYSTEMS,
    fmt: str = "kv",
    stream: TextIO | None = None,
) -> None:
    """Send all logs to ``stream`` (stderr by default) in format ``fmt``.

    ``level`` applies to every Mesyx subsystem; ``subsystems`` overrides it per subsystem
    (``{"smtp": "debug"}``). Libraries' own loggers (aiosmtpd, asyncio, SQLAlchemy) go
    through the same handler but only from ``warning`` up, even at ``debug``: their debug
    output is free text this module cannot redact (aiosmtpd's echoes ``AUTH PLAIN``
    credentials) and would drown Mesyx's own events. Calling this again
    replaces the previous setup (the CLI calls it once early and again after reading the
    config file). Raises :class:`~mesyx.errors.UsageError` for an unknown level or format.
    """
    root_level = _level(level, "log level")
    levels = {name: _level(value, f"log level of {name}") for name, value in subsystems.items()}
    if fmt not in FORMATS:
        raise UsageError(f"unknown log format {fmt!r}; use one of {', '.join(sorted(FORMATS))}")

    handler = _MesyxHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _KvFormatter())

    top = logging.getLogger()
    for old in [h for h in top.handlers if isinstance(h, _MesyxHandler)]:
        top.removeHandler(old)
        old.close()
    top.addHandler(handler)
    top.setLevel(logging.WARNING)

    logging.getLogger(ROOT_NAME).setLevel(root_level)
    for name in _configured_subsystems - levels.keys():
        logging.getLogger(f"{ROOT_NAME}.{name}").setLevel(logging.NOTSET)
    for name, sub_level in levels.items():
        logging.getLogger(f"{ROOT_NAME}.{name}").setLevel(sub_level)
    _configured_subsystems.clear()
    _configured_subsystems.update(levels)
