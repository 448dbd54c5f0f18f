"""Accept mode: takes inbound mail (SMTP now; IRC and XMPP later), filters, encrypts with
public keys only, stores durably. Holds no private key of any account."""

from mesyx.modes.accept.service import AcceptService

__all__ = ["AcceptService"]
