"""One message decrypted, as JSON a client can show, and its parts to download.

``GET /v1/messages/{id}`` answers :func:`mesyx.proto.mime.json_view.view` of the
decrypted message (decoded headers, the text and HTML RFC 2046 section 5.1.4 prefers,
attachments by IMAP part number), plus where the message is and its keywords;
``GET /v1/messages/{id}/parts/{part}`` one part's decoded bytes. Decryption and parsing
run together, on the loop for a message up to 1 MiB, else in a worker thread
(:meth:`~mesyx.modes.client.index.offload.Offload.run`).

Bounds: the text and the HTML are cut at :data:`MAX_SHOWN` characters each (``truncated``
says so; ``/raw`` has everything), so one reply stays a size a client can hold whatever
the message. A part is served as an attachment with ``nosniff`` and a sandboxing CSP: an
HTML part from a stranger must not run as a page of this origin (RFC 6266 section 4.2,
W3C CSP ``sandbox``); its media type is the message's only if it is a plain
``type/subtype``, else ``application/octet-stream``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Final

from aiohttp import web

from mesyx.http.api import Call, NoBody
from mesyx.modes.client.rest.index import RestIndex
from mesyx.modes.client.rest.messages import locate, message_state, with_message
from mesyx.modes.client.rest.models import AttachmentInfo, Header, MessageDetail
from mesyx.modes.client.rest.routes import Need, RestApi, context_of, path_param
from mesyx.modes.client.rest.tokens import Session
from mesyx.proto.mime.json_view import MessageView, part_content, view

__all__ = ["declare", "MAX_SHOWN"]

_TAGS = ("messages",)
#: Characters of text, and of HTML, one reply carries at most.
MAX_SHOWN: Final = 1024 * 1024
_MEDIA_TYPE: Final = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_OCTETS: Final = "application/octet-stream"


def _cut(text: str | None) -> tuple[str | None, bool]:
    if text is None or len(text) <= MAX_SHOWN:
        return text, False
    return text[:MAX_SHOWN], True


def _detail_fields(shown: MessageView) -> dict[str, object]:
    text, cut_text = _cut(shown.text)
    html, cut_html = _cut(shown.html)
    return {
        "headers": [Header(name=name, value=value) for name, value in shown.headers],
        "subject": shown.subject, "from_": shown.from_, "to": shown.to, "cc": shown.cc, "date": shown.date,
        "message_id": shown.message_id, "text": text, "html": html, "truncated": cut_text or cut_html,
        "attachments": [AttachmentInfo(part=a.part, content_type=a.content_type, filename=a.filename, size=a.size,
                                       disposition=a.disposition) for a in shown.attachments],
    }  # fmt: skip


def _download(raw: bytes, part: str) -> tuple[str, bytes, str | None]:
    """A part's media type, decoded bytes and file name (what the view lists for it)."""
    content_type, data = part_content(raw, part)
    filename = next((a.filename for a in view(raw).attachments if a.part == part), None)
    return content_type, data, filename


def _disposition(filename: str | None) -> str:
    """``attachment``, with the file name as RFC 6266 section 4.3 and RFC 8187 encode it."""
    if not filename:
        return "attachment"
    return "attachment; filename*=UTF-8''" + urllib.parse.quote(filename, safe="")


def declare(api: RestApi, index: RestIndex, need: Need) -> None:
    """``GET /v1/messages/{id}`` and its parts."""

    @api.json("GET", "/v1/messages/{message_id}", summary="A message, decrypted", body=NoBody,
              response=MessageDetail, auth=True, problems=(403, 404), tags=_TAGS)  # fmt: skip
    async def get_message(call: Call[NoBody, Session | None]) -> MessageDetail:
        """Headers decoded, the text and HTML to show (the ones RFC 2046 section 5.1.4
        prefers), attachments by part number, and the message's mailboxes and keywords.
        The HTML is the sender's: sanitise it before rendering it anywhere."""
        context = context_of(need(call))
        places = await locate(index, context, call.request)
        state = message_state(places)
        fields = await with_message(index, context, places[0], lambda raw: _detail_fields(view(raw)))
        # Built from the index and the parser, already typed: no second validation pass
        # (it was a tenth of a get's CPU); the response model still serialises it.
        values: dict[str, Any] = {**dict(state), **fields}
        return MessageDetail.model_construct(None, **values)

    async def get_part(request: web.Request) -> web.StreamResponse:
        """One part's content, transfer encoding undone, as a download."""
        context = context_of(api.authenticate(request))
        part = path_param(request, "part")
        place = (await locate(index, context, request))[0]
        content_type, data, filename = await with_message(index, context, place, lambda raw: _download(raw, part))
        return web.Response(body=data, headers={
            "Content-Type": content_type if _MEDIA_TYPE.match(content_type) else _OCTETS,
            "Content-Disposition": _disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        })  # fmt: skip

    # The part's own media type, whatever the message says: any (a media range, RFC 9110 section 12.5.1).
    api.raw_auth("GET", "/v1/messages/{message_id}/parts/{part}", get_part, summary="Download a part",
                 media_type="*/*", problems=(403, 404), tags=_TAGS)  # fmt: skip
