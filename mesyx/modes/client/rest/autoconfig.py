"""Thunderbird autoconfig (issue 4 point 3): the account wizard fills itself in.

Thunderbird asks ``http://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<addr>``
and ``http://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`` and reads a
``clientConfig`` version 1.1 document: one ``emailProvider`` with its ``domain``, and
``incomingServer`` / ``outgoingServer`` entries, each with ``hostname``, ``port``,
``socketType`` (``SSL``, ``STARTTLS`` or ``plain``), ``authentication`` and ``username``
(``%EMAILADDRESS%`` is replaced by what the person typed). Thunderbird tries the
servers in the order listed, so implicit TLS comes first (RFC 8314 section 3 prefers it
to STARTTLS), then the STARTTLS port of each protocol. Authentication is
``password-cleartext``: the passphrase or an app password goes inside TLS, which is what
IMAP LOGIN and SMTP AUTH PLAIN of the client mode take.

The document is a pure function of the ports, the node's host name and the address
asked about, built here without sockets and tested by parsing it back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, Field

from mesyx.config import Config
from mesyx.http.api import RawHandler, parse_query

__all__ = ["AutoconfigQuery", "MailSettings", "autoconfig_xml", "handler"]

#: Thunderbird's placeholder for the address the person typed.
EMAIL_PLACEHOLDER = "%EMAILADDRESS%"


@dataclass(frozen=True)
class MailSettings:
    """The ports and name a mail client needs."""

    hostname: str
    imaps: int
    imap: int
    submissions: int  # implicit TLS submission, RFC 8314 section 3.3 (port 465)
    submission: int  # STARTTLS submission, RFC 6409 (port 587)

    @classmethod
    def from_config(cls, config: Config) -> MailSettings:
        ports = config.ports
        return cls(config.node.hostname, ports.imaps, ports.imap, ports.smtps, ports.submission)


#: local@domain, neither part empty, no second @, no space, control character or markup
#: character (the domain goes into the XML document and its ``id`` attribute).
ADDRESS_PATTERN = r"^([^\x00-\x20\x7f@<>\"'&]+@[^\x00-\x20\x7f@<>\"'&]+)?$"


class AutoconfigQuery(BaseModel):
    """The query Thunderbird sends with the request."""

    emailaddress: str = Field(
        default="", max_length=256, pattern=ADDRESS_PATTERN, description="the address being set up: rita@mesyx.test"
    )


def _server(parent: ET.Element, tag: str, kind: str, hostname: str, port: int, socket_type: str) -> None:
    server = ET.SubElement(parent, tag, type=kind)
    for name, value in (
        ("hostname", hostname),
        ("port", str(port)),
        ("socketType", socket_type),
        ("authentication", "password-cleartext"),
        ("username", EMAIL_PLACEHOLDER),
    ):
        ET.SubElement(server, name).text = value


def autoconfig_xml(settings: MailSettings, domain: str) -> bytes:
    """The ``clientConfig`` 1.1 document for accounts of ``domain`` on this node."""
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=domain)
    ET.SubElement(provider, "domain").text = domain
    ET.SubElement(provider, "displayName").text = f"Mesyx ({domain})"
    ET.SubElement(provider, "displayShortName").text = "Mesyx"
    _server(provider, "incomingServer", "imap", settings.hostname, settings.imaps, "SSL")
    _server(provider, "incomingServer", "imap", settings.hostname, settings.imap, "STARTTLS")
    _server(provider, "outgoingServer", "smtp", settings.hostname, settings.submissions, "SSL")
    _server(provider, "outgoingServer", "smtp", settings.hostname, settings.submission, "STARTTLS")
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def domain_of(address: str, default: str) -> str:
    """The domain part of ``address`` (lower-cased; :data:`ADDRESS_PATTERN` checked its
    shape), ``default`` when none was given."""
    return address.rpartition("@")[2].lower() if address else default


def handler(settings: MailSettings) -> RawHandler:
    """The aiohttp handler serving the document for ``settings``."""

    async def get_autoconfig(request: web.Request) -> web.StreamResponse:
        """Thunderbird's autoconfig document (clientConfig 1.1): IMAP and submission of this
        node, implicit TLS first, then STARTTLS; the username is the address typed."""
        query = parse_query(request, AutoconfigQuery)
        domain = domain_of(query.emailaddress, settings.hostname)
        return web.Response(body=autoconfig_xml(settings, domain), content_type="application/xml", charset="utf-8")

    return get_autoconfig
