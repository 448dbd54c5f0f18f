"""One IMAP session: the state machine and the command dispatch table (RFC 9051 section 3).

States (RFC 9051 section 3, figure 1): not authenticated -> authenticated (LOGIN,
AUTHENTICATE) -> selected (SELECT, EXAMINE) -> logout. Each command names the states it
is valid in; anything else is ``BAD`` (RFC 9051 section 6: "a command in the wrong state
is a protocol error").

The session is transport-agnostic: it writes through a :class:`Transport` (the asyncio
connection in :mod:`.connection`, or an in-memory one in tests) and is driven event by
event from :class:`~mesyx.proto.imap.CommandReader`. Errors are Mesyx's typed errors,
rendered here, at the edge (DESIGN.md, "One closed error hierarchy"): a failure is a
tagged ``NO`` with a response code (RFC 5530), a malformed command a ``BAD``, and an
unexpected exception ``NO [SERVERBUG]`` with an error id that the log holds, never a
traceback.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

from mesyx.errors import (
    Corrupt,
    CryptoError,
    Exists,
    LimitExceeded,
    MesyxError,
    NotFound,
    PermissionDenied,
    Temporary,
    UsageError,
)
from mesyx.log import EventLogger, get_logger, new_error_id
from mesyx.proto.imap import BadCommand, Command, CommandReader, ContinuationLine, Event, NeedContinuation, commands
from mesyx.proto.imap import responses as r
from mesyx.store.mailcrypt import UnlockedAccount

__all__ = [
    "State",
    "Transport",
    "Authenticator",
    "Completion",
    "Session",
    "SessionConfig",
    "Handler",
    "HANDLERS",
    "register",
    "ImapRefusal",
    "allows_expunges",
]

_log = get_logger("imap")


class State(enum.Enum):
    """RFC 9051 section 3."""

    NOT_AUTHENTICATED = "not-authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY: frozenset[State] = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
AUTHENTICATED: frozenset[State] = frozenset({State.AUTHENTICATED, State.SELECTED})
NOT_AUTHENTICATED: frozenset[State] = frozenset({State.NOT_AUTHENTICATED})
SELECTED: frozenset[State] = frozenset({State.SELECTED})


class Transport(Protocol):
    """What a session needs of its connection."""

    @property
    def peer_ip(self) -> str: ...

    @property
    def secure(self) -> bool:
        """Is the connection under TLS (implicit, or after STARTTLS)?"""
        ...

    @property
    def loopback(self) -> bool: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    async def start_tls(self, context: ssl.SSLContext) -> None: ...


class Authenticator(Protocol):
    """:class:`~mesyx.modes.client.login.LoginService`, as a session uses it."""

    async def login(self, address: str, secret: str, client_ip: str) -> UnlockedAccount: ...


class Backend(Protocol):
    """The mailbox side of a session (the local index), as the session calls it."""

    @property
    def capabilities(self) -> tuple[str, ...]:
        """Capabilities advertised after login."""
        ...

    @property
    def enableable(self) -> tuple[str, ...]:
        """Those ENABLE may turn on."""
        ...

    async def opened(self, session: Session) -> None:
        """The session just logged in."""
        ...

    async def report_updates(self, session: Session, *, expunges: bool = True, sync: bool = False) -> None:
        """Send the untagged EXISTS / EXPUNGE / FETCH of what changed (RFC 9051 section 7.4.1);
        ``expunges`` false holds EXPUNGE back, ``sync`` first syncs the index (NOOP)."""
        ...

    async def closed(self, session: Session) -> None:
        """The session leaves its mailbox and logs out (or the connection dropped)."""
        ...


@dataclass(frozen=True)
class SessionConfig:
    """Per-listener settings shared by every session."""

    authenticator: Authenticator
    tls: ssl.SSLContext | None = None
    hostname: str = "localhost"
    backend: Backend | None = None

    @property
    def extra_capabilities(self) -> tuple[str, ...]:
        return self.backend.capabilities if self.backend is not None else ()

    @property
    def enableable(self) -> tuple[str, ...]:
        return self.backend.enableable if self.backend is not None else ()


@dataclass(frozen=True)
class Completion:
    """The tagged response a handler ends with; OK unless it says otherwise."""

    status: Literal["OK", "NO", "BAD"] = "OK"
    text: str = ""
    code: r.ResponseCode | r.Code | None = None


class ImapRefusal(MesyxError):
    """A refusal with an explicit IMAP status and code (e.g. ``NO [PRIVACYREQUIRED]``)."""

    def __init__(
        self, message: str, code: r.Code | r.ResponseCode | None = None, status: Literal["NO", "BAD"] = "NO"
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


Handler: TypeAlias = Callable[["Session", Command], Awaitable[Completion | None]]


@dataclass(frozen=True)
class _Entry:
    handler: Handler
    states: frozenset[State]


#: Command class -> handler and the states it is valid in; filled by the commands_* modules.
HANDLERS: dict[type[Command], _Entry] = {}


def register(command: type[Command], states: frozenset[State]) -> Callable[[Handler], Handler]:
    """Decorator: ``@register(commands.Noop, ANY)``."""

    def wrap(handler: Handler) -> Handler:
        HANDLERS[command] = _Entry(handler, states)
        return handler

    return wrap


#: Error kind -> IMAP response code (RFC 5530 section 3).
_CODES: dict[type[MesyxError], r.Code] = {
    NotFound: r.Code.NONEXISTENT,
    Exists: r.Code.ALREADYEXISTS,
    PermissionDenied: r.Code.NOPERM,
    LimitExceeded: r.Code.LIMIT,
    Temporary: r.Code.UNAVAILABLE,
    Corrupt: r.Code.CORRUPTION,
    CryptoError: r.Code.UNAVAILABLE,
}


def render_error(error: MesyxError) -> Completion:
    """A typed error as a tagged NO/BAD with its code."""
    if isinstance(error, ImapRefusal):
        return Completion(error.status, error.message, error.code)
    if isinstance(error, UsageError):
        return Completion("BAD", error.message, r.Code.CLIENTBUG)
    for kind, code in _CODES.items():
        if isinstance(error, kind):
            return Completion("NO", error.message, code)
    return Completion("NO", error.message, r.Code.SERVERBUG)


ContinuationHandler: TypeAlias = Callable[[ContinuationLine], Awaitable[Completion | None]]


@dataclass
class Session:
    """The state of one connection; :meth:`handle` takes each reader event in turn."""

    transport: Transport
    reader: CommandReader
    config: SessionConfig
    state: State = State.NOT_AUTHENTICATED
    account: UnlockedAccount | None = None
    #: (tag, handler) while a command waits for a continuation line (AUTHENTICATE, IDLE).
    continuation: tuple[str, ContinuationHandler] | None = None
    #: Capabilities the client turned on with ENABLE (RFC 5161).
    enabled: set[str] = field(default_factory=set)
    #: Opaque per-session data of the mailbox backend (selected mailbox, sequence map).
    mailbox: object | None = None
    log: EventLogger = field(default_factory=lambda: _log)

    # -- output --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Has the session logged out (the connection closes next)?"""
        return self.state is State.LOGOUT

    def send(self, data: bytes) -> None:
        self.transport.write(data)

    def capabilities(self) -> tuple[str, ...]:
        from mesyx.modes.client.imap.capabilities import capabilities

        return capabilities(
            authenticated=self.state in AUTHENTICATED,
            secure=self.transport.secure,
            loopback=self.transport.loopback,
            starttls=self.config.tls is not None,
            extra=self.config.extra_capabilities if self.state in AUTHENTICATED else (),
        )

    @property
    def login_allowed(self) -> bool:
        """Plain-text credentials only under TLS or on loopback (DESIGN.md, Ports)."""
        return self.transport.secure or self.transport.loopback

    def greeting(self) -> bytes:
        """``* OK [CAPABILITY ...] ready`` (RFC 9051 section 7.1.1)."""
        return r.untagged_status("OK", "Mesyx IMAP ready", r.capability_code(self.capabilities()))

    # -- backend hooks -------------------------------------------------------------------

    async def on_login(self) -> None:
        if self.config.backend is not None:
            await self.config.backend.opened(self)

    async def report_updates(self, *, expunges: bool = True, sync: bool = False) -> None:
        if self.config.backend is not None and self.state in AUTHENTICATED:
            await self.config.backend.report_updates(self, expunges=expunges, sync=sync)

    async def leave_mailbox(self) -> None:
        """On LOGOUT or a dropped connection: let the backend forget this session."""
        if self.config.backend is not None and self.account is not None:
            backend, self.account = self.config.backend, None
            await backend.closed(self)

    # -- events --------------------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        """Act on one reader event; never raises for anything the client sent."""
        if isinstance(event, NeedContinuation):
            self.send(r.continuation("Ready for literal data"))
        elif isinstance(event, BadCommand):
            code = _code_of(event.code)
            if event.tag is None:
                self.send(r.untagged_status("BAD", event.text, code))
            else:
                self.send(r.tagged(event.tag, event.status, event.text, code))
        elif isinstance(event, ContinuationLine):
            pending, self.continuation = self.continuation, None
            if pending is None:  # pragma: no cover - the reader yields these only when asked
                self.send(r.untagged_status("BAD", "unexpected continuation line"))
            else:
                tag, handler = pending
                await self._guarded(tag, "continuation", lambda: handler(event))
        else:
            await self._command(event)
        await self.transport.drain()

    async def _command(self, command: Command) -> None:
        entry = HANDLERS.get(type(command))
        if entry is None:
            self.send(r.tagged(command.tag, "BAD", f"{command.display_name} is not supported", r.Code.CANNOT))
            return
        if self.state not in entry.states:
            self.send(r.tagged(command.tag, "BAD", f"{command.display_name} is not valid in this state"))
            return
        await self._guarded(command.tag, command.display_name, lambda: self._run(entry.handler, command))

    async def _run(self, handler: Handler, command: Command) -> Completion | None:
        """Run a handler, then tell what changed in the selected mailbox meanwhile: the server
        may send updates at the end of any command (RFC 9051 section 7.4.1, RFC 3501 section
        7.4.1), EXPUNGE only where :func:`allows_expunges`. Not after a BAD (the command did
        nothing) nor a command that answers later (IDLE)."""
        done = await handler(self, command)
        if done is not None and done.status != "BAD" and self.state is State.SELECTED:
            await self.report_updates(expunges=allows_expunges(command))
        return done

    def expect_continuation(self, tag: str, handler: ContinuationHandler) -> None:
        """Read the next line as a continuation line and pass it to ``handler``."""
        self.reader.expect_continuation_line()
        self.continuation = (tag, handler)

    async def _guarded(self, tag: str, name: str, call: Callable[[], Awaitable[Completion | None]]) -> None:
        try:
            done = await call()
        except MesyxError as exc:
            done = render_error(exc)
        except Exception:  # noqa: BLE001 - an internal error is shown as an id only
            error_id = new_error_id()
            self.log.exception("internal_error", error_id=error_id, command=name)
            done = Completion("NO", f"internal error, id {error_id}", r.Code.SERVERBUG)
        if done is None:  # the handler answers later (IDLE, AUTHENTICATE) or answered itself
            return
        text = done.text or f"{name} completed"
        self.send(r.tagged(tag, done.status, text, done.code))


#: Commands that name messages by sequence number when used without UID.
_SEQUENCE_COMMANDS: tuple[type[Command], ...] = (
    commands.Fetch, commands.Store, commands.Search, commands.Copy, commands.Sort, commands.Thread,
)


def allows_expunges(command: Command) -> bool:
    """May EXPUNGE responses end this command? Not FETCH, STORE, SEARCH (RFC 9051 section 7.5.1,
    RFC 3501 section 7.4.1) nor the other commands naming messages by sequence number (COPY,
    SORT, THREAD; RFC 3501 section 5.5: the numbers the client sent must keep their meaning);
    their UID forms may, as may every other command."""
    if isinstance(command, _SEQUENCE_COMMANDS):
        return bool(getattr(command, "uid", False))
    return True


def _code_of(code: str | None) -> r.ResponseCode | None:
    if not code:
        return None
    name, _, data = code.partition(" ")
    try:
        return r.ResponseCode(name, data)
    except ValueError:
        return None
