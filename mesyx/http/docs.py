"""The browsable API page (``/docs``), rendered from the OpenAPI document alone.

Why not Swagger UI or ReDoc: they load scripts from a CDN, which a node serving people's
mail should not make their browsers fetch, or ship megabytes of JavaScript with the
package. One static HTML page generated from the same document is enough to read the
routes, their schemas and the problem types, works offline and needs no script at all.
Each problem kind has an anchor (``#problem-<kind>``) that problem details' ``type``
points at (RFC 9457 section 3.1.1).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, Final

from mesyx.http.problems import HTTP_KINDS, STATUS_OF_KIND

__all__ = ["render_docs"]

_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
    "pre{background:#f4f4f4;padding:.6rem;overflow:auto;font-size:.85rem}"
    "h3 code{background:#e8eef8;padding:.1rem .3rem}.m{font-weight:bold;text-transform:uppercase}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
)

#: What each problem kind means, for the page's problem section.
_MEANING: Final[dict[str, str]] = {
    "bad-request": "The request is malformed (e.g. the body is not JSON).",
    "unauthorized": "No valid bearer token, or the login failed; log in again.",
    "not-found": "The resource does not exist.",
    "method-not-allowed": "The resource does not support this method.",
    "too-large": "The request body exceeds the endpoint's bound.",
    "unsupported-media-type": "Send the body as application/json.",
    "invalid": "The input does not fit the schema; see the errors member.",
    "limit": "A rate or size limit was hit; wait as Retry-After says.",
    "exists": "The thing to create exists already.",
    "permission": "You may not do this.",
    "temporary": "Try again later.",
    "corrupt": "The data does not parse or violates an invariant.",
    "crypto": "A signature or key did not verify.",
    "usage": "The request is malformed.",
    "internal": "A bug: the error_id member names it in the node's log.",
}


def _kinds() -> list[tuple[str, int]]:
    seen: dict[str, int] = {kind: status for status, kind in HTTP_KINDS.items()}
    for kind, status in STATUS_OF_KIND.items():
        seen.setdefault(kind, status)
    return sorted((k, s) for k, s in seen.items() if k in _MEANING)


def _pre(value: Any) -> str:
    return f"<pre>{escape(json.dumps(value, indent=2, sort_keys=True))}</pre>"


def render_docs(document: dict[str, Any]) -> str:
    """One self-contained HTML page describing ``document`` (an OpenAPI 3.1 dict)."""
    info = document["info"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(info['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info['title'])} <small>{escape(info['version'])}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. '
        "Authenticated routes take <code>Authorization: Bearer &lt;token&gt;</code> from "
        "<code>POST /v1/login</code>.</p><h2>Routes</h2>",
    ]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            parts.append(f'<h3 id="{escape(op["operationId"])}"><span class=m>{escape(method)}</span> '
                         f"<code>{escape(path)}</code> {escape(op.get('summary', ''))}</h3>")  # fmt: skip
            if op.get("security"):
                parts.append("<p><em>Needs a bearer token.</em></p>")
            if op.get("description"):
                parts.append(f"<p>{escape(op['description'])}</p>")
            for param in op.get("parameters", []):
                need = "required" if param.get("required") else "optional"
                parts.append(f"<p>Query <code>{escape(param['name'])}</code> ({need}): "
                             f"{escape(param['schema'].get('description', ''))}</p>")  # fmt: skip
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                parts.append(f"<p>Body (application/json): {_ref_link(body['schema'])}</p>")
            rows = []
            for status, response in op["responses"].items():
                content = response.get("content", {})
                kinds = ", ".join(f"{escape(t)} {_ref_link(c['schema'])}" for t, c in content.items())
                rows.append(f"<tr><td>{escape(status)}</td><td>{escape(response['description'])}</td><td>{kinds}</td></tr>")
            parts.append("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>" + "".join(rows) + "</table>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        parts.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{_pre(schema)}')
    parts.append("<h2>Problems</h2><p>Errors are problem details (RFC 9457, "
                 "<code>application/problem+json</code>); their <code>type</code> links here.</p>")  # fmt: skip
    for kind, status in _kinds():
        parts.append(f'<h3 id="problem-{escape(kind)}">{escape(kind)} ({status})</h3><p>{escape(_MEANING[kind])}</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _ref_link(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    return ""
