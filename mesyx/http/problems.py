"""Errors at the HTTP edge: RFC 9457 problem details, never a traceback.

Every failure leaves as ``application/problem+json`` (RFC 9457 section 3) with ``type``,
``title``, ``status`` and ``detail``. ``type`` is a relative URI (section 3.1.1 allows a
URI reference) pointing at the problem's section of the service's own docs page, so a
person who follows it finds what it means without the node reaching out to anyone.

The closed hierarchy of :mod:`mesyx.errors` maps to one status each
(:data:`STATUS_OF_KIND`); aiohttp's own HTTP errors (404, 405, 413 from the body bound)
keep their status; anything else is a bug: it is logged with an error id and the client
sees only that id (DESIGN.md, Architecture habits), status 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from mesyx.errors import MesyxError
from mesyx.log import get_logger, new_error_id

__all__ = [
    "PROBLEM_JSON",
    "STATUS_OF_KIND",
    "FieldError",
    "Problem",
    "ProblemError",
    "problem_middleware",
    "problem_response",
    "problem_type",
]

_log = get_logger("http")

#: RFC 9457 section 3: the media type of a problem details object in JSON.
PROBLEM_JSON: Final = "application/problem+json"

#: One status per kind of :class:`~mesyx.errors.MesyxError` (its ``kind`` attribute).
#: ``permission`` is 403 here; a failed login or a missing bearer token is 401
#: (:class:`ProblemError` with ``status=401``), as RFC 9110 section 15.5.2 asks.
STATUS_OF_KIND: Final[Mapping[str, int]] = {
    "not-found": 404,
    "exists": 409,
    "permission": 403,
    "temporary": 503,
    "limit": 429,
    "corrupt": 422,
    "crypto": 422,
    "usage": 400,
    "config": 500,
    "error": 500,
}

#: Kinds of problems that are no MesyxError: HTTP-level refusals and bad input.
HTTP_KINDS: Final[Mapping[int, str]] = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "limit",
    500: "internal",
}

#: Seconds a client should wait after a 429 (RFC 9110 section 10.2.3): the login
#: budgets of :class:`~mesyx.modes.client.login.LoginService` are per minute.
RETRY_AFTER_SECONDS: Final = 60


def problem_type(kind: str) -> str:
    """The ``type`` URI of a kind: an anchor on the docs page (RFC 9457 section 3.1.1)."""
    return f"/docs#problem-{kind}"


class FieldError(BaseModel):
    """One input that failed validation: where (``body.password``, ``query.x``) and why."""

    loc: str
    msg: str


class Problem(BaseModel):
    """RFC 9457 section 3.1 members; ``errors`` lists what failed validation, ``error_id``
    names an internal failure in the node's log (extension members, section 3.2)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    error_id: str | None = None


class ProblemError(Exception):
    """Raised by handlers for a failure that needs a status or header its kind lacks."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or HTTP_KINDS.get(status, "error")
        self.headers = dict(headers or {})
        self.errors = errors


def problem_response(
    status: int,
    kind: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    error_id: str | None = None,
) -> web.Response:
    """One problem details response; ``title`` is the status phrase, the same for every
    occurrence of a type (section 3.1.3), the specifics go to ``detail``."""
    problem = Problem(
        type=problem_type(kind),
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=None if errors is None else [FieldError(**error) for error in errors],
        error_id=error_id,
    )
    return web.Response(
        status=status,
        body=problem.model_dump_json(exclude_none=True),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def _from_mesyx(exc: MesyxError) -> web.Response:
    status = STATUS_OF_KIND.get(exc.kind, 500)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else None
    if status >= 500 and status != 503:
        error_id = new_error_id()
        _log.error("internal", error_id=error_id, error=f"{type(exc).__name__}: {exc}")
        return problem_response(status, "internal", f"internal error {error_id}", error_id=error_id)
    return problem_response(status, exc.kind, exc.message, headers=headers)


def _from_http(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        raise exc  # redirects and the like stay what they are
    kind = HTTP_KINDS.get(exc.status, "error")
    detail = {
        404: "no such resource",
        405: "method not allowed here",
        413: "the request body is larger than this endpoint accepts",
    }.get(exc.status, exc.reason)
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return problem_response(exc.status, kind, detail, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure of ``handler`` as problem details (the edge of the hierarchy)."""
    try:
        return await handler(request)
    except ProblemError as exc:
        return problem_response(exc.status, exc.kind, exc.detail, headers=exc.headers, errors=exc.errors)
    except MesyxError as exc:
        return _from_mesyx(exc)
    except web.HTTPException as exc:
        return _from_http(exc)
    except Exception:  # noqa: BLE001 - the edge: a bug shows an id, the log holds the traceback
        error_id = new_error_id()
        _log.exception("internal", error_id=error_id, method=request.method, path=request.path)
        return problem_response(500, "internal", f"internal error {error_id}", error_id=error_id)
