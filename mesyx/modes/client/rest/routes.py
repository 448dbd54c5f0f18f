"""What the REST routes need beyond :class:`mesyx.http.api.Api`: path and query parameters
in the document, bearer-protected raw routes, and the session's index context.

:class:`~mesyx.http.api.Api` documents a JSON route's body and a raw route's query, not
the ``{id}`` templates of a path (OpenAPI 3.1 section 4.8.12.2: every template must be a
declared ``in: path`` parameter) nor a JSON route's query. :class:`RestApi` adds both to
the operations it generates and marks raw routes that need a token as such, so the
document says what the handlers check. (These belong in :mod:`mesyx.http.api` itself;
kept here while that module is not this package's to change.)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from mesyx.errors import NotFound
from mesyx.http.api import Api, Call, Operation, RawHandler, parse_query
from mesyx.modes.client.rest.index import IndexContext
from mesyx.modes.client.rest.tokens import Session

__all__ = ["RestApi", "Need", "context_of", "path_param", "parse_query"]

_TEMPLATE: Final = re.compile(r"\{(\w+)\}")
#: The longest path parameter any route takes (ids are base32 of 16 or 32 bytes).
MAX_PATH_PARAM: Final = 128

#: Turns a typed call into its bearer's session (a 401 without one).
Need = Callable[[Call[Any, Session | None]], Session]


def context_of(session: Session) -> IndexContext:
    """The session's index context; every session the service issues has one."""
    if session.index is None:
        raise NotFound("this session has no mailboxes")
    return session.index


def path_param(request: web.Request, name: str) -> str:
    """A path parameter, bounded: anything longer than an id is no id (404)."""
    value = request.match_info[name]
    if len(value) > MAX_PATH_PARAM:
        raise NotFound(f"no such {name}")
    return value


class RestApi(Api[Session | None]):
    """:class:`Api` with path parameters, JSON routes with a query, and raw routes behind
    the bearer token."""

    def authenticate(self, request: web.Request) -> Session:
        """The bearer's session for a raw route (a 401 problem without one)."""
        session = self._authenticate(request)
        assert session is not None  # the service's authenticate returns one or raises
        return session

    def amend(self, *, query: type[BaseModel] | None = None, auth: bool | None = None,
              problems: Iterable[int] = ()) -> None:
        """Change the operation declared last: its query model, whether it needs a token,
        more problem statuses."""
        op = self.operations[-1]
        extra = set(problems) | ({422} if query is not None else set()) | ({401} if auth else set())
        self.operations[-1] = dataclasses.replace(
            op,
            query=query if query is not None else op.query,
            auth=op.auth if auth is None else auth,
            problems=tuple(sorted(set(op.problems) | extra)),
        )

    def raw_auth(self, method: str, path: str, handler: RawHandler, *, summary: str, media_type: str,
                 query: type[BaseModel] | None = None, problems: Iterable[int] = (),
                 tags: tuple[str, ...] = ()) -> None:
        """A raw route that needs the bearer token (its handler calls :meth:`authenticate`)."""
        self.raw(method, path, handler, summary=summary, media_type=media_type, query=query, problems=problems,
                 tags=tags)  # fmt: skip
        self.amend(auth=True)

    def _operation(self, op: Operation, refs: Mapping[tuple[Any, Any], dict[str, Any]]) -> dict[str, Any]:
        out = super()._operation(op, refs)
        names = _TEMPLATE.findall(op.path)
        if names:
            declared = [
                {"name": name, "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAM}}
                for name in names
            ]  # fmt: skip
            out["parameters"] = declared + list(out.get("parameters", ()))
        return out
