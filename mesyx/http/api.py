"""Typed routes: one declaration gives the aiohttp handler, its input checks and its OpenAPI entry.

DESIGN.md (Architecture habits) asks that the OpenAPI document be generated from typed
models, never written by hand. Here every route is declared once with its pydantic
models; :class:`Api` parses and bounds the request from that declaration (the handler
gets a typed :class:`Call`), serialises the reply model, and :meth:`Api.openapi` builds
the OpenAPI 3.1 document from the same declarations, its schemas from pydantic's JSON
Schema (2020-12, the dialect OpenAPI 3.1 uses). A route cannot answer something its
document does not say, because both come from one object.

Input rules (issue 4: nothing answers 500 to bad input; request sizes are bounded):
a body larger than the route's ``max_body`` is 413 before it is read; a body that is not
``application/json`` is 415; JSON that does not parse is 400; JSON that does not fit the
model is 422 with every failing field listed (RFC 9457 section 3.2 extension ``errors``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from mesyx.http.docs import render_docs
from mesyx.http.problems import PROBLEM_JSON, Problem, ProblemError

__all__ = ["Api", "Call", "NoBody", "RawHandler", "parse_query"]

B = TypeVar("B", bound=BaseModel)
S = TypeVar("S")

#: Default bound of a JSON request body; routes that take more say so.
DEFAULT_MAX_BODY: Final = 16 * 1024

_REF: Final = "#/components/schemas/{model}"


class NoBody(BaseModel):
    """The body model of a route that takes no body."""


@dataclass(frozen=True)
class Call(Generic[B, S]):
    """What a typed handler receives: the request, its checked body, the bearer's session."""

    request: web.Request
    body: B
    session: S


RawHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Operation:
    """One route as the OpenAPI document describes it."""

    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    media_type: str
    query: type[BaseModel] | None
    auth: bool
    problems: tuple[int, ...]
    tags: tuple[str, ...] = field(default=())


def _errors_of(exc: ValidationError, where: str) -> list[dict[str, str]]:
    return [
        {"loc": ".".join([where, *(str(part) for part in error["loc"])]), "msg": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def parse_query(request: web.Request, model: type[B]) -> B:
    """The query string as ``model``; 422 naming the failing parameters otherwise."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise ProblemError(422, "invalid query parameters", errors=_errors_of(exc, "query")) from None


async def read_json_body(request: web.Request, model: type[B], max_body: int) -> B:
    """The JSON body as ``model``, read chunk by chunk (a chunked body says its size only at
    its end): 413 over ``max_body``, 415 not JSON, 400 invalid JSON, 422 not fitting."""
    length = request.content_length
    if length is not None and length > max_body:
        raise ProblemError(413, f"the request body is larger than this endpoint accepts ({max_body} bytes)")
    if request.content_type != "application/json":
        raise ProblemError(415, "send the body as application/json")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():  # a chunked body says its size only at its end
        size += len(chunk)
        if size > max_body:
            raise ProblemError(413, f"the request body is larger than this endpoint accepts ({max_body} bytes)")
        chunks.append(chunk)
    try:
        return model.model_validate_json(b"".join(chunks))
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise ProblemError(400, "the request body is not valid JSON") from None
        raise ProblemError(422, "the request body does not fit the schema", errors=_errors_of(exc, "body")) from None


class Api(Generic[S]):
    """A set of typed routes on one aiohttp application, and their OpenAPI document.

    ``authenticate`` turns a request into the session of its bearer (or raises a 401
    :class:`~mesyx.http.problems.ProblemError`); routes declared with ``auth=True`` get
    it in :attr:`Call.session`, the others get ``anonymous``.
    """

    def __init__(
        self,
        *,
        title: str,
        version: str,
        description: str,
        authenticate: Callable[[web.Request], S],
        anonymous: S,
    ) -> None:
        self.title = title
        self.version = version
        self.description = description
        self._authenticate = authenticate
        self._anonymous = anonymous
        self.operations: list[Operation] = []
        self._routes: list[web.RouteDef] = []

    def json(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[B],
        response: type[BaseModel] | None,
        status: int = 200,
        auth: bool = False,
        problems: Iterable[int] = (),
        max_body: int = DEFAULT_MAX_BODY,
        tags: tuple[str, ...] = (),
    ) -> Callable[[Callable[[Call[B, S]], Awaitable[BaseModel | None]]], None]:
        """Declare a JSON route; ``body=NoBody`` for one without a body, ``response=None``
        (status 204) for one without a reply body. The handler's docstring is its
        description in the document."""

        def register(handler: Callable[[Call[B, S]], Awaitable[BaseModel | None]]) -> None:
            takes_body = body is not NoBody
            extra = {400, 413, 415, 422} if takes_body else set()
            if auth:
                extra.add(401)
            self.operations.append(
                Operation(
                    method=method.lower(),
                    path=path,
                    operation_id=handler.__name__.strip("_"),
                    summary=summary,
                    description=inspect.cleandoc(handler.__doc__ or ""),
                    body=body if takes_body else None,
                    response=response,
                    status=status if response is not None else 204,
                    media_type="application/json",
                    query=None,
                    auth=auth,
                    problems=tuple(sorted(extra | set(problems))),
                    tags=tags,
                )
            )

            async def endpoint(request: web.Request) -> web.StreamResponse:
                session = self._authenticate(request) if auth else self._anonymous
                parsed = await read_json_body(request, body, max_body) if takes_body else body.model_validate({})
                result = await handler(Call(request, parsed, session))
                if result is None:
                    return web.Response(status=204)
                return web.Response(status=status, body=result.model_dump_json(), content_type="application/json")

            self._routes.append(web.route(method.upper(), path, endpoint))

        return register

    def raw(
        self,
        method: str,
        path: str,
        handler: RawHandler,
        *,
        summary: str,
        media_type: str,
        query: type[BaseModel] | None = None,
        problems: Iterable[int] = (),
        tags: tuple[str, ...] = (),
        operation_id: str | None = None,
    ) -> None:
        """Declare a route that writes its own reply (XML, HTML, a stream)."""
        self.operations.append(
            Operation(
                method=method.lower(),
                path=path,
                operation_id=operation_id or handler.__name__.strip("_"),
                summary=summary,
                description=inspect.cleandoc(handler.__doc__ or ""),
                body=None,
                response=None,
                status=200,
                media_type=media_type,
                query=query,
                auth=False,
                problems=tuple(sorted(set(problems) | ({422} if query is not None else set()))),
                tags=tags,
            )
        )
        self._routes.append(web.route(method.upper(), path, handler))

    def add_docs(self) -> None:
        """``/openapi.json`` and ``/docs`` (the browsable page), both generated once, after
        every other route is declared (call this last), and listing themselves too."""

        async def get_openapi(request: web.Request) -> web.StreamResponse:
            """The OpenAPI 3.1 document of this service, generated from its typed routes."""
            return web.json_response(document)

        async def get_docs(request: web.Request) -> web.StreamResponse:
            """This service's API as an HTML page: every route, its schemas and its problems."""
            return web.Response(text=page, content_type="text/html", charset="utf-8")

        self.raw("GET", "/openapi.json", get_openapi, summary="OpenAPI document", media_type="application/json",
                 tags=("docs",), operation_id="openapi")  # fmt: skip
        self.raw("GET", "/docs", get_docs, summary="API documentation", media_type="text/html",
                 tags=("docs",), operation_id="docs")  # fmt: skip
        document = self.openapi()
        page = render_docs(document)

    @property
    def routes(self) -> list[web.RouteDef]:
        return list(self._routes)

    # ----------------------------------------------------------------------- OpenAPI

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every route declared so far."""
        inputs = {op.body for op in self.operations if op.body is not None}
        outputs = {op.response for op in self.operations if op.response is not None} | {Problem}
        keyed: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in sorted(inputs, key=_name)]
        keyed += [(m, "serialization") for m in sorted(outputs, key=_name)]
        refs, defs = models_json_schema(keyed, ref_template=_REF)
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method] = self._operation(op, refs)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {
                "schemas": defs.get("$defs", {}),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }

    def _operation(self, op: Operation, refs: Mapping[tuple[Any, Any], dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
        if op.description:
            out["description"] = op.description
        if op.tags:
            out["tags"] = list(op.tags)
        if op.query is not None:
            out["parameters"] = _query_parameters(op.query)
        if op.body is not None:
            out["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        responses: dict[str, Any] = {}
        if op.response is not None:
            schema = refs[(op.response, "serialization")]
            responses[str(op.status)] = {"description": "success", "content": {op.media_type: {"schema": schema}}}
        elif op.status == 204:
            responses["204"] = {"description": "done, no content"}
        else:
            text = {"type": "string"}
            responses[str(op.status)] = {"description": "success", "content": {op.media_type: {"schema": text}}}
        problem = refs[(Problem, "serialization")]
        for status in op.problems:
            responses[str(status)] = {"description": "problem details (RFC 9457)",
                                      "content": {PROBLEM_JSON: {"schema": problem}}}  # fmt: skip
        out["responses"] = responses
        if op.auth:
            out["security"] = [{"bearer": []}]
        return out


def _name(model: type[BaseModel]) -> str:
    return model.__name__


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]
