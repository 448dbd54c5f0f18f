"""The node descriptor: signed by the node key, pins the TLS key, refuses any edit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mesyx.config import Mode
from mesyx.crypto.encoding import b32
from mesyx.crypto.node import NodeKeys, node_id_of, sign_descriptor, verify_descriptor
from mesyx.errors import Corrupt, CryptoError
from mesyx.home import Home


@pytest.fixture()
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "node")
    home.create(modes=[Mode.ACCEPT, Mode.EXCHANGE], port_base=30000, hostname="mx.example.org")
    return home


def test_descriptor_pins_the_p256_certificate(home: Home) -> None:
    descriptor = home.descriptor()
    cert = x509.load_pem_x509_certificate(home.cert_path.read_bytes())
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert descriptor["tls_spki_sha256"] == hashlib.sha256(spki).hexdigest()
    assert descriptor["node_id"] == home.node_keys().node_id
    assert descriptor["modes"] == ["accept", "exchange"]


@pytest.mark.parametrize("field", ["node_id", "verify_key", "box_key", "tls_spki_sha256", "modes", "issued_at"])
def test_any_edit_is_refused(home: Home, field: str) -> None:
    descriptor = home.descriptor()
    edited = dict(descriptor)
    if field == "modes":
        edited[field] = ["client"]
    elif field == "issued_at":
        edited[field] = 1
    elif field == "node_id":
        edited[field] = NodeKeys.generate().node_id
    else:
        value = str(edited[field])
        edited[field] = value[:-2] + ("aa" if value[-2:] != "aa" else "bb")
    with pytest.raises((CryptoError, Corrupt)):
        verify_descriptor(edited)


def test_a_descriptor_re_signed_by_another_key_does_not_keep_the_id(home: Home) -> None:
    other = NodeKeys.generate()
    forged = sign_descriptor(other, tls_spki_sha256=bytes(32), modes=["client"])
    forged["node_id"] = home.node_keys().node_id
    with pytest.raises(CryptoError):
        verify_descriptor(forged)
    assert node_id_of(other.verify_key) == verify_descriptor(sign_descriptor(other, tls_spki_sha256=b"", modes=[]))[
        "node_id"
    ]


def test_a_damaged_descriptor_file_is_one_clear_error(home: Home) -> None:
    home.descriptor_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(Corrupt):
        home.descriptor()
    data = sign_descriptor(home.node_keys(), tls_spki_sha256=bytes(32), modes=[])
    data["signature"] = b32(bytes(64))
    home.descriptor_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CryptoError):
        home.descriptor()
