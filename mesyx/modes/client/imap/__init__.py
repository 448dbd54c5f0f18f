"""Mesyx's IMAP server (client mode): IMAP4rev1 over the sans-IO layer in :mod:`mesyx.proto.imap`.

* :mod:`.service`: :class:`ImapService`, the listeners (the client mode's service starts them);
* :mod:`.connection`: one connection (streams, backpressure, STARTTLS, idle timeout);
* :mod:`.session`: the state machine and dispatch table (RFC 9051 section 3);
* :mod:`.commands_auth`: any-state and not-authenticated commands, logins;
* :mod:`.capabilities`: what is advertised (only what is implemented).
"""

from __future__ import annotations

from mesyx.modes.client.imap.service import ImapService

__all__ = ["ImapService"]
