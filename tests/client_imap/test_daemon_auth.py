"""IMAP logins against a real daemon with Python's imaplib (issue 3, acceptance)."""

from __future__ import annotations

import imaplib

import pytest

from tests.client_imap.conftest import ADDRESS, PASSPHRASE, connect, connect_tls, unverified
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow


def test_capability_noop_id_and_logout(imap_node: Node) -> None:
    client = connect(imap_node)
    assert "IMAP4REV1" in client.capabilities and "STARTTLS" in client.capabilities
    assert client.noop()[0] == "OK"
    assert client.xatom("ID", "NIL")[0] == "OK"
    assert client.logout()[0] == "BYE"


def test_login_with_passphrase_after_starttls(imap_node: Node) -> None:
    client = connect(imap_node)
    client.starttls(ssl_context=unverified())
    assert "STARTTLS" not in client.capabilities
    typ, data = client.login(ADDRESS, PASSPHRASE)
    assert typ == "OK" and b"[CAPABILITY IMAP4rev1" in data[0]
    client.logout()


def test_bad_login_is_authenticationfailed(imap_node: Node) -> None:
    client = connect(imap_node)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(ADDRESS, "not the passphrase")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("nobody@mesyx.test", PASSPHRASE)
    client.logout()


def test_login_with_app_password_over_implicit_tls(imap_node: Node) -> None:
    result = imap_node.cli(
        "account", "app-password", "add", ADDRESS, "--label", "imap-test",
        "--passphrase-file", imap_node.passphrase_file, check=True,
    )
    password = result.out.strip().splitlines()[-1].rsplit(": ", 1)[1]
    client = connect_tls(imap_node)
    assert client.login(ADDRESS, password)[0] == "OK"
    client.logout()


def test_authenticate_plain_with_sasl_ir(imap_node: Node) -> None:
    client = connect_tls(imap_node)
    typ, _ = client.authenticate("PLAIN", lambda _: f"\0{ADDRESS}\0{PASSPHRASE}".encode())
    assert typ == "OK"
    client.logout()
