"""Thunderbird autoconfig (issue 4 point 3): the document Thunderbird's wizard reads, served."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mesyx.modes.client.rest.autoconfig import MailSettings, autoconfig_xml
from tests.client_rest.conftest import HOSTNAME, Running, curl

#: What Thunderbird's readFromXML reads of each server entry; anything else is ignored by it.
SERVER_FIELDS = ["hostname", "port", "socketType", "authentication", "username"]


def _servers(root: ET.Element, tag: str) -> list[dict[str, str]]:
    provider = root.find("emailProvider")
    assert provider is not None
    out = []
    for server in provider.findall(tag):
        assert [child.tag for child in server] == SERVER_FIELDS
        out.append({"type": server.get("type", ""), **{child.tag: child.text or "" for child in server}})
    return out


def _check(document: bytes, *, domain: str, imaps: int, imap: int, smtps: int, submission: int) -> None:
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(document)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    providers = root.findall("emailProvider")
    assert len(providers) == 1 and providers[0].get("id") == domain
    assert [child.tag for child in providers[0]] == [
        "domain", "displayName", "displayShortName",
        "incomingServer", "incomingServer", "outgoingServer", "outgoingServer",
    ]  # fmt: skip
    assert providers[0].findtext("domain") == domain
    common = {"hostname": HOSTNAME, "authentication": "password-cleartext", "username": "%EMAILADDRESS%"}
    assert _servers(root, "incomingServer") == [
        {"type": "imap", "port": str(imaps), "socketType": "SSL", **common},
        {"type": "imap", "port": str(imap), "socketType": "STARTTLS", **common},
    ]
    assert _servers(root, "outgoingServer") == [
        {"type": "smtp", "port": str(smtps), "socketType": "SSL", **common},
        {"type": "smtp", "port": str(submission), "socketType": "STARTTLS", **common},
    ]


def test_document_has_the_fields_thunderbird_reads() -> None:
    settings = MailSettings(HOSTNAME, imaps=993, imap=143, submissions=465, submission=587)
    _check(autoconfig_xml(settings, "example.org"), domain="example.org", imaps=993, imap=143, smtps=465,
           submission=587)  # fmt: skip


@pytest.mark.parametrize(
    ("path", "domain"),
    [
        ("/.well-known/autoconfig/mail/config-v1.1.xml", HOSTNAME),
        ("/mail/config-v1.1.xml?emailaddress=Rita%40Example.ORG", "example.org"),
        ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=rita%2Bx%40mesyx.test", "mesyx.test"),
    ],
)
def test_served_over_http_with_the_node_ports(rest: Running, path: str, domain: str) -> None:
    reply = curl(rest.url + path)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/xml; charset=utf-8"
    ports = rest.service.config.ports
    _check(reply.body, domain=domain, imaps=ports.imaps, imap=ports.imap, smtps=ports.smtps,
           submission=ports.submission)  # fmt: skip


@pytest.mark.parametrize(
    "address", ["nobody", "%40x", "a%3Cb%40x.org", "a%40b%40c", "a%40b%00c", "a%20b%40c", "a%40b%26c", "a%40"]
)
def test_bad_address_is_a_problem_not_a_document(rest: Running, address: str) -> None:
    reply = curl(f"{rest.url}/mail/config-v1.1.xml?emailaddress={address}")
    assert reply.status == 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["errors"][0]["loc"] == "query.emailaddress"


def test_oversized_address_is_refused(rest: Running) -> None:
    reply = curl(f"{rest.url}/mail/config-v1.1.xml?emailaddress={'a' * 300}%40x.org")
    assert reply.status == 422
    assert reply.json()["errors"][0]["loc"] == "query.emailaddress"
