"""Pairing: what ``mesyx peer add`` checks before it trusts a node (DESIGN.md, Keys).

No certificate authority and no trust on first use: the user types the peer's node id
(read off ``mesyx status`` on that node), and a descriptor is taken only if

1. its signature verifies under the verify key it names, and that key hashes to its node
   id (:func:`mesyx.crypto.node.verify_descriptor`);
2. that node id is the one the user typed;
3. the certificate served beside it has the SPKI SHA-256 the signed descriptor pins;
4. the TLS connection it came over presented that very certificate (so whoever answered
   holds its private key, not just a copy of the public files).

The fetch itself skips certificate verification: 1-4 are the verification.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from mesyx.crypto.node import verify_descriptor
from mesyx.errors import Corrupt, CryptoError, MesyxError, NotFound, Temporary, UsageError
from mesyx.modes.exchange.tls import der_of_pem, spki_of_der, spki_of_pem, unverified_context

__all__ = ["DESCRIPTOR_PATH", "Pinned", "parse_address", "fetch_descriptor", "read_descriptor_file", "check_pinned"]

DESCRIPTOR_PATH: Final = "/sync/v1/descriptor"
#: Seconds to wait for a peer's descriptor.
FETCH_TIMEOUT: Final = 15.0
#: A descriptor answer is a few KiB; anything much larger is not one.
MAX_DESCRIPTOR_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class Pinned:
    """A checked descriptor, its certificate (PEM, empty for sneakernet-only) and the pin."""

    descriptor: dict[str, object]
    certificate: str
    spki: bytes


def parse_address(address: str) -> tuple[str, int]:
    """``https://HOST:PORT`` (DESIGN.md, Interfaces) -> (host, port); anything else is a usage error."""
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "https" or not parts.hostname or port is None or parts.path not in ("", "/") \
            or parts.query or parts.username:
        raise UsageError(f"peer address {address!r}: expected https://HOST:PORT")
    return parts.hostname, port


def check_pinned(node_id: str, descriptor: object, certificate: str | None) -> Pinned:
    """Checks 1-3 above; ``certificate`` None for a peer reached by bundles only."""
    if not isinstance(descriptor, dict):
        raise Corrupt("the peer's answer holds no node descriptor")
    fields = verify_descriptor(descriptor)
    if fields.get("node_id") != node_id:
        raise CryptoError(f"the descriptor is node {fields.get('node_id')}, not {node_id} as given: refusing it")
    pin = fields.get("tls_spki_sha256")
    try:
        spki = bytes.fromhex(pin) if isinstance(pin, str) else b""
    except ValueError:
        spki = b""
    if len(spki) != 32:
        raise Corrupt("the descriptor pins no TLS key")
    if certificate is not None and spki_of_pem(certificate) != spki:
        raise CryptoError("the peer's certificate is not the one its signed descriptor pins: refusing it")
    return Pinned(dict(descriptor), certificate or "", spki)


def fetch_descriptor(address: str, node_id: str) -> Pinned:
    """GET ADDRESS/sync/v1/descriptor and check it (1-4); raises a MesyxError otherwise."""
    host, port = parse_address(address)
    conn = http.client.HTTPSConnection(host, port, timeout=FETCH_TIMEOUT, context=unverified_context())
    try:
        conn.request("GET", DESCRIPTOR_PATH, headers={"Accept": "application/json"})
        presented = conn.sock.getpeercert(binary_form=True) if isinstance(conn.sock, ssl.SSLSocket) else None
        response = conn.getresponse()
        body = response.read(MAX_DESCRIPTOR_BYTES + 1)
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise Temporary(f"cannot fetch the descriptor from {address}: {exc}") from exc
    finally:
        conn.close()
    if response.status != 200:
        raise NotFound(f"{address} answered {response.status} for its descriptor: is it a Mesyx exchange node?")
    try:
        data = json.loads(body)
        descriptor, certificate = data["descriptor"], data["certificate"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Corrupt(f"{address} sent no descriptor") from exc
    if not isinstance(certificate, str):
        raise Corrupt(f"{address} sent no certificate")
    pinned = check_pinned(node_id, descriptor, certificate)
    if presented is None or spki_of_der(presented) != pinned.spki or presented != der_of_pem(certificate):
        raise CryptoError(f"{address} presented another TLS certificate than the one it describes: refusing it")
    return pinned


def read_descriptor_file(path: Path, node_id: str) -> Pinned:
    """A descriptor file for a sneakernet-only peer: ``descriptor.json`` of its home, or a
    saved answer of the descriptor endpoint (descriptor and certificate)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotFound(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Corrupt(f"{path} is not a node descriptor (JSON)") from exc
    try:
        if isinstance(data, dict) and "descriptor" in data:
            certificate = data.get("certificate")
            return check_pinned(node_id, data["descriptor"], certificate if isinstance(certificate, str) else None)
        return check_pinned(node_id, data, None)
    except MesyxError:
        raise
    except (ValueError, TypeError) as exc:
        raise Corrupt(f"{path} is not a node descriptor: {exc}") from exc
