"""Small, strict binary and text encodings shared by the crypto and store layers.

Signed and hashed structures must have exactly one byte representation, so they are
built from fixed-width integers and length-prefixed fields rather than JSON.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from mesyx.errors import Corrupt

__all__ = ["b32", "unb32", "Writer", "Reader", "blake2b"]



def b32(data: bytes) -> str:
    """Lower-case unpadded base32: case-insensitive, safe in file names and DNS labels."""
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def unb32(text: str, length: int | None = None) -> bytes:
    """Inverse of :func:`b32`; raises Corrupt on bad input or a wrong decoded length."""
    clean = text.strip().upper()
    try:
        data = base64.b32decode(clean + "=" * (-len(clean) % 8))
    except (ValueError, TypeError) as exc:
        raise Corrupt(f"not a base32 identifier: {text[:40]!r}") from exc
    if length is not None and len(data) != length:
        raise Corrupt(f"identifier {text[:40]!r} has {len(data)} bytes, expected {length}")
    return data


def blake2b(
    data: bytes, *, size: int = 32, key: bytes = b"", person: bytes = b"", salt: bytes = b""
) -> bytes:
    """BLAKE2b with a personalisation, so hashes of different jobs never collide.

    The stdlib's BLAKE2b (RFC 7693 with the BLAKE2 salt and personalisation parameters)
    gives libsodium's ``crypto_generichash_blake2b_salt_personal`` digests at a tenth of
    PyNaCl's call cost; it runs several times per accepted message.
    """
    return hashlib.blake2b(data, digest_size=size, key=key, person=person, salt=salt).digest()


class Writer:
    """Builds a canonical byte string from fixed-width integers and length-prefixed fields."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        self._parts.append(struct.pack(">B", value))
        return self

    def u32(self, value: int) -> Writer:
        self._parts.append(struct.pack(">I", value))
        return self

    def u64(self, value: int) -> Writer:
        self._parts.append(struct.pack(">Q", value))
        return self

    def fixed(self, data: bytes, length: int) -> Writer:
        if len(data) != length:
            raise ValueError(f"field must be {length} bytes, got {len(data)}")
        self._parts.append(data)
        return self

    def var(self, data: bytes) -> Writer:
        self._parts.append(struct.pack(">I", len(data)))
        self._parts.append(data)
        return self

    def text(self, value: str) -> Writer:
        return self.var(value.encode("utf-8"))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Parses what :class:`Writer` built; any truncation or excess raises Corrupt."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._what = what

    def _take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise Corrupt(f"{self._what} is truncated")
        chunk = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return chunk

    def u8(self) -> int:
        return int(self._take(1)[0])

    def u32(self) -> int:
        value: int = struct.unpack(">I", self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self._take(8))[0]
        return value

    def fixed(self, length: int) -> bytes:
        return self._take(length)

    def var(self) -> bytes:
        return self._take(self.u32())

    def text(self) -> str:
        try:
            return self.var().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Corrupt(f"{self._what} has a field that is not UTF-8") from exc

    def rest(self) -> bytes:
        return self._take(len(self._data) - self._pos)

    def end(self) -> None:
        if self._pos != len(self._data):
            raise Corrupt(f"{self._what} has {len(self._data) - self._pos} trailing bytes")
