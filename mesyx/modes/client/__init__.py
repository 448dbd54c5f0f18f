"""Client mode: unlocked accounts, the local index, and the IMAP server (DESIGN.md, modes table)."""

from __future__ import annotations

from mesyx.modes.client.imap import ClientService

__all__ = ["ClientService"]
