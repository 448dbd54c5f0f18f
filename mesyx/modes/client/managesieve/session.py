"""One ManageSieve session's commands (RFC 5804 section 2), without sockets.

:class:`Session` takes the lines :class:`~.protocol.LineReader` found and returns what
to send back, as a :class:`Reply` that also tells the server to start TLS or to close.
What a session asks of the node (logins, the account's script set) goes through
:class:`Backend`, so tests drive every command with a fake.

* Before login: CAPABILITY, NOOP, LOGOUT, STARTTLS (section 2.2: the capabilities are sent
  again once TLS is up), AUTHENTICATE "PLAIN" (section 2.1, RFC 4616), with the initial
  response inline or after an empty challenge ``""``, ``"*"`` cancelling. Credentials in
  the clear are refused with ``NO (ENCRYPT-NEEDED)`` except on loopback (DESIGN.md, Ports);
  the SASL capability is then empty.
* After login: PUTSCRIPT, CHECKSCRIPT (validated by :func:`mesyx.sieve.compile_bytes`:
  ``NO "line L: ..."``), GETSCRIPT, LISTSCRIPTS, SETACTIVE (``""`` deactivates),
  DELETESCRIPT (not the active one: ``NO (ACTIVE)``), RENAMESCRIPT, HAVESPACE (quota,
  :mod:`mesyx.store.sieve_scripts`), UNAUTHENTICATE (section 2.14).

Errors map to response codes once, in :func:`_refusal`: NONEXISTENT, ALREADYEXISTS,
ACTIVE, QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE, QUOTA, TRYLATER.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import mesyx
from mesyx.errors import Exists, LimitExceeded, MesyxError, NotFound, ScriptError, Temporary
from mesyx.modes.client.managesieve.protocol import Atom, Line, Refused, Token, capability_lines, response, string
from mesyx.sieve import EXTENSIONS, compile_bytes
from mesyx.sieve.limits import DEFAULT_LIMITS
from mesyx.store.sieve_scripts import QuotaExceeded, ScriptActive, ScriptSet, check_name

__all__ = ["Backend", "Reply", "Session", "Refusal"]

Change = Callable[[ScriptSet], ScriptSet]


class Backend(Protocol):
    """What a session needs of the node; every method may raise a MesyxError."""

    async def login(self, address: str, secret: str, client_ip: str) -> bytes:
        """The account id, or AuthenticationFailed / LimitExceeded."""
        ...

    async def read(self, account_id: bytes) -> ScriptSet: ...

    async def edit(self, account_id: bytes, change: Change) -> ScriptSet: ...


@dataclass
class Reply:
    data: bytes = b""
    starttls: bool = False
    close: bool = False


class Refusal(Exception):
    """A command refused with ``NO``; raised inside a handler, rendered by :meth:`Session.handle`."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


@dataclass
class Session:
    backend: Backend
    peer_ip: str
    loopback: bool
    tls_available: bool
    secure: bool = False
    account_id: bytes | None = None
    #: After an empty challenge: the next line is the client's SASL response.
    awaiting_sasl: bool = False

    @property
    def login_allowed(self) -> bool:
        return self.secure or self.loopback

    def capabilities(self) -> bytes:
        """The capability lines (section 1.7) for the session's state."""
        caps: list[tuple[str, str | None]] = [
            ("IMPLEMENTATION", f"Mesyx {mesyx.__version__}"),
            ("SASL", "PLAIN" if self.login_allowed and self.account_id is None else ""),
            ("SIEVE", " ".join(EXTENSIONS)),
            ("MAXREDIRECTS", str(DEFAULT_LIMITS.redirects)),
        ]
        if self.tls_available and not self.secure and self.account_id is None:
            caps.append(("STARTTLS", None))
        caps += [("UNAUTHENTICATE", None), ("VERSION", "1.0")]
        return capability_lines(caps)

    def greeting(self) -> bytes:
        """Section 1.7: the server speaks first, with its capabilities."""
        return self.capabilities() + response("OK", None, "Mesyx ManageSieve ready")

    async def handle(self, line: Line) -> Reply:
        """One command line (or the client's answer to a SASL challenge)."""
        try:
            if self.awaiting_sasl:
                self.awaiting_sasl = False
                return await self._sasl_answer(list(line.tokens))
            if not line.tokens or not isinstance(line.tokens[0], Atom):
                raise Refusal("a command starts with its name")
            name = line.tokens[0].text.upper()
            handler = _COMMANDS.get(name)
            if handler is None:
                raise Refusal(f"unknown command {name[:40]}")
            needs_login, run = handler
            if needs_login and self.account_id is None:
                raise Refusal("log in first (AUTHENTICATE)")
            return await run(self, list(line.tokens[1:]))
        except Refusal as refused:
            return Reply(response("NO", refused.code, refused.text))
        except MesyxError as exc:
            text, code = _refusal(exc)
            return Reply(response("NO", code, text))

    def refused(self, refused: Refused) -> Reply:
        """A line the reader could not take (bad syntax, a literal over the bound)."""
        self.awaiting_sasl = False
        return Reply(response("NO", refused.code, refused.reason))

    # -- commands before and after login ---------------------------------------------

    async def capability(self, args: list[Token]) -> Reply:
        _arity(args, 0)
        return Reply(self.capabilities() + response("OK"))

    async def noop(self, args: list[Token]) -> Reply:
        """Section 2.13: an optional tag string is echoed as ``(TAG ...)``."""
        if len(args) > 1:
            raise Refusal("NOOP takes at most one string")
        code = b"TAG " + string(_bytes(args[0])) if args else None
        return Reply(response("OK", code, "Done"))

    async def logout(self, args: list[Token]) -> Reply:
        return Reply(response("OK", None, "Logout completed"), close=True)

    async def starttls(self, args: list[Token]) -> Reply:
        if not self.tls_available:
            raise Refusal("TLS is not configured here")
        if self.secure or self.account_id is not None:
            raise Refusal("STARTTLS is only for a session in the clear, before login")
        return Reply(response("OK", None, "Begin TLS negotiation now"), starttls=True)

    def tls_started(self) -> bytes:
        """Section 2.2: after the handshake the capabilities again, then OK."""
        self.secure = True
        return self.capabilities() + response("OK", None, "TLS negotiation successful")

    async def authenticate(self, args: list[Token]) -> Reply:
        if self.account_id is not None:
            raise Refusal("already logged in")
        if not args or len(args) > 2:
            raise Refusal('AUTHENTICATE takes a mechanism and an optional initial response')
        if _text(args[0]).upper() != "PLAIN":
            raise Refusal("the only mechanism is PLAIN")
        if not self.login_allowed:
            raise Refusal("log in over TLS (STARTTLS first)", "ENCRYPT-NEEDED")
        if len(args) == 2:
            return await self._plain(_bytes(args[1]))
        self.awaiting_sasl = True
        return Reply(string(b"") + b"\r\n")

    async def _sasl_answer(self, args: list[Token]) -> Reply:
        """The client's response: a string (section 2.1); a bare word is taken too (lenient:
        base64 is made of atom characters)."""
        if len(args) != 1:
            raise Refusal("the answer to a challenge is one string")
        answer = args[0].text.encode("ascii") if isinstance(args[0], Atom) else args[0]
        if answer == b"*":
            raise Refusal("authentication cancelled")
        return await self._plain(answer)

    async def _plain(self, encoded: bytes) -> Reply:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal("the response is not valid base64") from None
        parts = data.split(b"\x00")
        if len(parts) != 3:
            raise Refusal("a PLAIN response is authzid NUL authcid NUL password")
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            raise Refusal("a PLAIN response is UTF-8") from None
        if authzid and authzid.lower() != authcid.lower():
            raise Refusal("logging in as another user is not supported")
        self.account_id = await self.backend.login(authcid, password, self.peer_ip)
        return Reply(response("OK", None, "Logged in"))

    async def unauthenticate(self, args: list[Token]) -> Reply:
        _arity(args, 0)
        self.account_id = None
        return Reply(response("OK"))

    # -- script commands (logged in) ---------------------------------------------------

    @property
    def _account(self) -> bytes:
        assert self.account_id is not None
        return self.account_id

    async def putscript(self, args: list[Token]) -> Reply:
        _arity(args, 2)
        name, script = _name(args[0]), _bytes(args[1])
        text = _compile(script)
        await self.backend.edit(self._account, lambda s: s.put(name, text))
        return Reply(response("OK"))

    async def checkscript(self, args: list[Token]) -> Reply:
        _arity(args, 1)
        _compile(_bytes(args[0]))
        return Reply(response("OK"))

    async def getscript(self, args: list[Token]) -> Reply:
        _arity(args, 1)
        text = (await self.backend.read(self._account)).get(_name(args[0]))
        return Reply(b"{%d}\r\n" % len(text.encode("utf-8")) + text.encode("utf-8") + b"\r\n" + response("OK"))

    async def listscripts(self, args: list[Token]) -> Reply:
        _arity(args, 0)
        scripts = await self.backend.read(self._account)
        lines = b"".join(string(name) + (b" ACTIVE" if name == scripts.active else b"") + b"\r\n"
                         for name in scripts.names())
        return Reply(lines + response("OK"))

    async def setactive(self, args: list[Token]) -> Reply:
        _arity(args, 1)
        raw = _text(args[0])
        name = _name(args[0]) if raw else None
        await self.backend.edit(self._account, lambda s: s.activate(name))
        return Reply(response("OK"))

    async def deletescript(self, args: list[Token]) -> Reply:
        _arity(args, 1)
        name = _name(args[0])
        await self.backend.edit(self._account, lambda s: s.delete(name))
        return Reply(response("OK"))

    async def renamescript(self, args: list[Token]) -> Reply:
        _arity(args, 2)
        old, new = _name(args[0]), _name(args[1])
        await self.backend.edit(self._account, lambda s: s.rename(old, new))
        return Reply(response("OK"))

    async def havespace(self, args: list[Token]) -> Reply:
        _arity(args, 2)
        name = _name(args[0])
        size = args[1]
        if not isinstance(size, Atom) or not size.text.isdigit() or len(size.text) > 10:
            raise Refusal("HAVESPACE takes a name and a number of octets")
        (await self.backend.read(self._account)).check_space(name, int(size.text))
        return Reply(response("OK"))


_Handler = Callable[[Session, list[Token]], Awaitable[Reply]]
#: Command name -> (needs a login, handler).
_COMMANDS: dict[str, tuple[bool, _Handler]] = {
    "CAPABILITY": (False, Session.capability),
    "NOOP": (False, Session.noop),
    "LOGOUT": (False, Session.logout),
    "STARTTLS": (False, Session.starttls),
    "AUTHENTICATE": (False, Session.authenticate),
    "UNAUTHENTICATE": (True, Session.unauthenticate),
    "PUTSCRIPT": (True, Session.putscript),
    "CHECKSCRIPT": (True, Session.checkscript),
    "GETSCRIPT": (True, Session.getscript),
    "LISTSCRIPTS": (True, Session.listscripts),
    "SETACTIVE": (True, Session.setactive),
    "DELETESCRIPT": (True, Session.deletescript),
    "RENAMESCRIPT": (True, Session.renamescript),
    "HAVESPACE": (True, Session.havespace),
}


def _arity(args: list[Token], count: int) -> None:
    if len(args) != count:
        raise Refusal(f"expected {count} argument{'s' if count != 1 else ''}, got {len(args)}")


def _bytes(token: Token) -> bytes:
    if isinstance(token, Atom):
        raise Refusal("expected a string (quoted or a literal), got a bare word")
    return token


def _text(token: Token) -> str:
    if isinstance(token, Atom):
        return token.text
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal("strings are UTF-8") from None


def _name(token: Token) -> str:
    return check_name(_text(_bytes(token)))


def _compile(script: bytes) -> str:
    """The script's text once it compiles; else ``NO "line L: ..."`` (RFC 5804 section 2.6)."""
    if len(script) > DEFAULT_LIMITS.script_bytes:
        raise QuotaExceeded(f"a script is at most {DEFAULT_LIMITS.script_bytes} octets", "QUOTA/MAXSIZE")
    try:
        compile_bytes(script)
    except ScriptError as exc:
        raise Refusal(f"line {exc.line}: {exc.message} (column {exc.column})") from None
    return script.decode("utf-8")


def _refusal(exc: MesyxError) -> tuple[str, str | None]:
    """A MesyxError as a NO's text and response code (RFC 5804 section 1.3)."""
    if isinstance(exc, QuotaExceeded):
        return exc.message, exc.code
    if isinstance(exc, ScriptActive):
        return exc.message, "ACTIVE"
    if isinstance(exc, NotFound):
        return exc.message, "NONEXISTENT"
    if isinstance(exc, Exists):
        return exc.message, "ALREADYEXISTS"
    if isinstance(exc, Temporary | LimitExceeded):
        return exc.message, "TRYLATER"
    return exc.message, None
