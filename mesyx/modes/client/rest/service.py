"""The client mode's REST service (issue 4 point 2): aiohttp on ``ports.rest``, ``node.listen``.

Plain HTTP on loopback, TLS with the node's context anywhere else (DESIGN.md, Ports;
:func:`mesyx.http.server.tls_for`). Logins go through the same
:class:`~mesyx.modes.client.login.LoginService` as IMAP (pass the IMAP service's own
instance), so a guesser shares one failed-login budget per address and per IP across
protocols. A login returns a bearer token (RFC 6750) that lives in memory only
(:mod:`.tokens`); every other failure is problem details (RFC 9457, :mod:`mesyx.http.problems`).

Routes are declared once, typed (:class:`mesyx.http.api.Api`), and the same
declarations give ``/openapi.json`` and the ``/docs`` page.

A login also opens the account's index context (:mod:`.index`: attached to the client
mode's shared index feed, like an IMAP session), which the token holds until it ends;
the mailbox, message, search and event routes answer from it (:mod:`.mailboxes`, ...).
"""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack
from typing import Any, Final

from aiohttp import web

from mesyx import __version__
from mesyx.config import Config
from mesyx.crypto.encoding import b32
from mesyx.http.api import Call, NoBody
from mesyx.http.problems import ProblemError, problem_middleware
from mesyx.http.server import serve_app
from mesyx.modes.client.index import IndexFeed
from mesyx.modes.client.login import AuthenticationFailed, LoginService
from mesyx.modes.client.rest import autoconfig, events, mailboxes, message_view, messages, search, send, status
from mesyx.modes.client.rest.index import RestIndex
from mesyx.modes.client.rest.messages import when
from mesyx.modes.client.rest.models import AccountInfo, LoginRequest, LoginResponse
from mesyx.modes.client.rest.routes import RestApi
from mesyx.modes.client.rest.tokens import Session, TokenStore
from mesyx.modes.client.submission.submit import Submitter
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store

__all__ = ["RestService", "bearer_token"]

#: RFC 6750 section 3: the challenge of a 401 on a bearer-protected resource.
_REALM: Final = 'Bearer realm="mesyx"'
#: The largest request body any route here takes (the app-wide cap; routes bound lower).
MAX_REQUEST: Final = 64 * 1024


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = f'{_REALM}, error="{error}"' if error else _REALM
    return ProblemError(401, detail, headers={"WWW-Authenticate": challenge})


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>`` (RFC 6750 section 2.1), or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("log in (POST /v1/login) and send Authorization: Bearer <token>")
    return token


async def _no_store(request: web.Request, response: web.StreamResponse) -> None:
    """Tokens and decrypted mail must not stay in caches (RFC 6749 section 5.1 for token
    responses; RFC 9111 section 5.2.2.5); the public documents may be cached."""
    if request.path.startswith("/v1/"):
        response.headers["Cache-Control"] = "no-store"


class RestService:
    """The REST listener of one client node."""

    name = "rest"

    def __init__(
        self,
        config: Config,
        store: Store,
        tls: ssl.SSLContext | None,
        broadcaster: Broadcaster,
        feed: IndexFeed,
        login: LoginService,
        submitter: Submitter,
        *,
        port: int | None = None,
        tokens: TokenStore | None = None,
    ) -> None:
        self.config = config
        self.tls = tls
        self.login = login
        self.submitter = submitter
        self.index = RestIndex(store, broadcaster, feed)
        self.port = config.ports.rest if port is None else port
        self.tokens = tokens if tokens is not None else TokenStore()
        self.tokens.on_end = self._ended
        self.streams = events.Streams()
        self.api = RestApi(
            title="Mesyx client REST API",
            version=__version__,
            description="A client node's decrypted mailboxes over HTTP. Errors are RFC 9457 problem details.",
            authenticate=self._authenticate,
            anonymous=None,
        )
        self._declare()

    def _authenticate(self, request: web.Request) -> Session:
        session = self.tokens.find(bearer_token(request))
        if session is None:
            raise _unauthorized("the token is unknown, expired or revoked: log in again", "invalid_token")
        return session

    def _alive(self, request: web.Request) -> bool:
        """Whether the request's bearer token still works (an event stream ends with it)."""
        return self.tokens.find(bearer_token(request)) is not None

    def _ended(self, session: Session) -> None:
        if session.index is not None:
            self.index.close(session.index)

    @staticmethod
    def _session(call: Call[Any, Session | None]) -> Session:
        if call.session is None:  # only on a route declared without auth=True: a bug
            raise _unauthorized("this route needs a bearer token")
        return call.session

    def _declare(self) -> None:
        api = self.api
        settings = autoconfig.MailSettings.from_config(self.config)
        get_autoconfig = autoconfig.handler(settings)
        for path, op_id in (
            ("/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig_well_known"),
            ("/mail/config-v1.1.xml", "autoconfig"),
        ):
            api.raw("GET", path, get_autoconfig, summary="Thunderbird autoconfig", media_type="application/xml",
                    query=autoconfig.AutoconfigQuery, tags=("autoconfig",),
                    operation_id=op_id)  # fmt: skip

        @api.json("POST", "/v1/login", summary="Log in: a bearer token for an address and its secret",
                  body=LoginRequest, response=LoginResponse, problems=(401, 429), tags=("session",))  # fmt: skip
        async def login(call: Call[LoginRequest, Session | None]) -> LoginResponse:
            """The passphrase (Argon2id, off the loop) or an app password (fast) unlocks the
            account; failures share IMAP's per-address and per-IP budgets, and past them the
            answer is 429 with Retry-After. Every failed login is the same 401."""
            ip = call.request.remote or "unknown"
            try:
                account = await self.login.login(call.body.address, call.body.password, ip)
            except AuthenticationFailed:
                raise _unauthorized("authentication failed") from None
            token, session = self.tokens.issue(account, await self.index.open(account))
            return LoginResponse(token=token, expires_at=when(session.expires_at))

        @api.json("POST", "/v1/logout", summary="Log out: revoke the bearer token", body=NoBody, response=None,
                  auth=True, tags=("session",))  # fmt: skip
        async def logout(call: Call[NoBody, Session | None]) -> None:
            """The token stops working at once; the unlocked account is forgotten with it."""
            self.tokens.revoke(bearer_token(call.request))

        @api.json("GET", "/v1/account", summary="Who am I", body=NoBody, response=AccountInfo, auth=True,
                  tags=("session",))  # fmt: skip
        async def account(call: Call[NoBody, Session | None]) -> AccountInfo:
            """The account the bearer token belongs to, and when the token expires."""
            session = self._session(call)
            record = session.account.record
            return AccountInfo(
                account_id=b32(record.account_id),
                address=record.primary_address,
                addresses=list(record.addresses),
                expires_at=when(session.expires_at),
            )

        mailboxes.declare(api, self.index, self._session)
        messages.declare(api, self.index, self._session)
        message_view.declare(api, self.index, self._session)
        search.declare(api, self.index, self._session)
        events.declare(api, self.index, self.streams, self._alive)
        status.declare(api, self.index, self._session, self.config, self.tokens.count)
        send.declare(api, self.submitter, self._session, self.config.node.hostname)
        api.add_docs()

    def app(self) -> web.Application:
        """The aiohttp application (every route, problem details for every failure)."""
        app = web.Application(middlewares=[problem_middleware], client_max_size=MAX_REQUEST)
        app.add_routes(self.api.routes)
        app.on_response_prepare.append(_no_store)
        app.on_shutdown.append(self.streams.close)
        return app

    async def start(self, stack: AsyncExitStack) -> None:
        """Listen until ``stack`` unwinds."""
        host = self.config.node.listen
        stack.callback(self.tokens.clear)  # after the listener closes: every session lets go of the feed
        await serve_app(self.app(), stack, name="rest", host=host, port=self.port, tls=self.tls)
