"""TLS for replication: mutual authentication pinned to peers' descriptors, no CA.

DESIGN.md (Keys): a node's TLS certificate is self-signed; its signed descriptor lists
the SHA-256 of its SubjectPublicKeyInfo, and ``mesyx peer add`` stores the certificate
only after checking it against that pin. Each self-signed certificate is then its own
trust anchor (``VERIFY_X509_PARTIAL_CHAIN``: the pinned certificate itself ends the chain,
whatever its basic constraints say), so:

- the client trusts exactly the one certificate pinned for the peer it dials (and
  presents its own);
- the server asks every client for a certificate and trusts exactly the pinned peers'
  ones (a stranger's certificate fails the handshake); a client without a certificate
  gets through the handshake only to fetch the public descriptor, and the handler checks
  the presented certificate's SPKI against the peer table on every other request, so a
  peer removed while the daemon runs is refused (403) at once, before the context is
  rebuilt.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mesyx.errors import ConfigError, Corrupt

__all__ = ["spki_of_der", "spki_of_pem", "der_of_pem", "server_context", "client_context", "unverified_context"]


def _spki(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def spki_of_der(der: bytes) -> bytes:
    """SHA-256 of a DER certificate's SubjectPublicKeyInfo (what descriptors pin)."""
    try:
        return _spki(x509.load_der_x509_certificate(der))
    except ValueError as exc:
        raise Corrupt(f"not an X.509 certificate: {exc}") from exc


def spki_of_pem(pem: str) -> bytes:
    return spki_of_der(der_of_pem(pem))


def der_of_pem(pem: str) -> bytes:
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(serialization.Encoding.DER)
    except (ValueError, UnicodeEncodeError) as exc:
        raise Corrupt(f"not a PEM certificate: {exc}") from exc


def _base(purpose: ssl.Purpose) -> ssl.SSLContext:
    context = ssl.create_default_context(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _load_chain(context: ssl.SSLContext, cert_path: Path, key_path: Path) -> None:
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS certificate {cert_path} / key {key_path}: {exc}") from exc


def trust(context: ssl.SSLContext, pems: Iterable[str]) -> None:
    """Add pinned certificates as trust anchors of ``context`` (also while it serves)."""
    cadata = "\n".join(p for p in pems if p)
    if cadata:
        context.load_verify_locations(cadata=cadata)


def server_context(cert_path: Path, key_path: Path, peer_pems: Iterable[str]) -> ssl.SSLContext:
    """The exchange listener's context: the node's own certificate, client certificates
    requested (optional, for the public descriptor) and verified against the pins."""
    context = _base(ssl.Purpose.CLIENT_AUTH)
    _load_chain(context, cert_path, key_path)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    trust(context, peer_pems)
    return context


def client_context(cert_path: Path, key_path: Path, peer_pem: str) -> ssl.SSLContext:
    """Dialling one peer: its pinned certificate is the only trust anchor (no host name
    check: the pin is the identity), and ours is presented for the server's check."""
    context = _base(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    trust(context, [peer_pem])
    _load_chain(context, cert_path, key_path)
    return context


def unverified_context() -> ssl.SSLContext:
    """For fetching a descriptor at ``peer add`` only: the certificate is checked after the
    fact against the descriptor's signed pin (and the node id the user typed)."""
    context = _base(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
