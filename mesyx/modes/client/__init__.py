"""Client mode: unlocked accounts, the local index, IMAP, SMTP submission and the REST API
(DESIGN.md, modes table)."""

from __future__ import annotations

from mesyx.modes.client.service import ClientService

__all__ = ["ClientService"]
