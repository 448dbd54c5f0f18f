"""Talking to one peer's ``/sync/v1/`` (docs/sync-protocol.md): aiohttp's client over a
TLS context that trusts only that peer's pinned certificate and presents ours.

Every failure comes out as a :mod:`mesyx.errors` type: the peer's problem details keep
their kind (403 PermissionDenied, 422 Corrupt, 429 LimitExceeded, ...), network and TLS
failures are Temporary. The per-peer task records them and backs off.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Final

import aiohttp

from mesyx.crypto.encoding import b32
from mesyx.errors import (
    Corrupt,
    CryptoError,
    LimitExceeded,
    MesyxError,
    NotFound,
    PermissionDenied,
    Temporary,
    UsageError,
)
from mesyx.modes.exchange.wire import (
    SYNC_MEDIA_TYPE,
    WAIT_MAX_SECONDS,
    PullBody,
    Vectors,
    VectorsBody,
    WaitBody,
    decode_vectors,
    encode_vectors,
)

__all__ = ["PeerLink"]

_KINDS: Final[dict[str, type[MesyxError]]] = {
    "not-found": NotFound, "permission": PermissionDenied, "limit": LimitExceeded, "corrupt": Corrupt,
    "crypto": CryptoError, "usage": UsageError, "invalid": Corrupt, "too-large": LimitExceeded,
}  # fmt: skip
#: Seconds without a byte before a request is given up (a wait answers within 25 s).
READ_TIMEOUT: Final = WAIT_MAX_SECONDS + 35.0


async def _problem(response: aiohttp.ClientResponse) -> MesyxError:
    text = (await response.content.read(8192)).decode("utf-8", "replace")
    try:
        data = json.loads(text)
        detail, kind = str(data.get("detail", "")), str(data.get("type", "")).rsplit("problem-", 1)[-1]
    except (ValueError, AttributeError):
        detail, kind = text[:200], ""
    error = _KINDS.get(kind, Temporary)
    return error(f"peer answered {response.status}: {detail}")


class PeerLink:
    """One HTTP/1.1 connection pool to one peer."""

    def __init__(self, address: str, tls: ssl.SSLContext) -> None:
        self.address = address.rstrip("/")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=READ_TIMEOUT)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls, limit=4), timeout=timeout, raise_for_status=False
        )

    async def close(self) -> None:
        await self._session.close()

    async def _post_json(self, path: str, body: VectorsBody | WaitBody) -> Vectors:
        try:
            async with self._session.post(
                f"{self.address}/sync/v1/{path}", data=body.model_dump_json(),
                headers={"Content-Type": "application/json"},
            ) as response:
                if response.status != 200:
                    raise await _problem(response)
                answer = VectorsBody.model_validate_json(await response.read())
        except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise Temporary(f"{path}: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # pydantic's ValidationError
            raise Corrupt(f"{path}: the peer's answer does not parse") from exc
        return decode_vectors(answer.vectors)

    async def heads(self, ours: Vectors) -> Vectors:
        return await self._post_json("heads", VectorsBody(vectors=encode_vectors(ours)))

    async def wait(self, seen: Vectors, timeout: float = WAIT_MAX_SECONDS) -> Vectors:
        return await self._post_json("wait", WaitBody(vectors=encode_vectors(seen), timeout=timeout))

    async def pull(self, account_id: bytes, ours: dict[str, int]) -> AsyncIterator[bytes]:
        """The frames of what we lack of the account, as the peer streams them."""
        body = PullBody(account=b32(account_id), vector=ours).model_dump_json()
        try:
            async with self._session.post(
                f"{self.address}/sync/v1/pull", data=body, headers={"Content-Type": "application/json"}
            ) as response:
                if response.status != 200:
                    raise await _problem(response)
                async for chunk in response.content.iter_chunked(1 << 16):
                    yield chunk
        except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise Temporary(f"pull: {type(exc).__name__}: {exc}") from exc

    async def push(self, frames: AsyncIterator[bytes]) -> Vectors:
        """Stream frames to the peer; returns its vectors of the accounts they touched."""
        try:
            async with self._session.post(
                f"{self.address}/sync/v1/push", data=frames, headers={"Content-Type": SYNC_MEDIA_TYPE}
            ) as response:
                if response.status != 200:
                    raise await _problem(response)
                answer = VectorsBody.model_validate_json(await response.read())
        except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise Temporary(f"push: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:
            raise Corrupt("push: the peer's answer does not parse") from exc
        return decode_vectors(answer.vectors)
