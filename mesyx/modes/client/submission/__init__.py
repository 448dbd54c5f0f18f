"""SMTP submission of the client mode (RFC 6409, RFC 8314, RFC 4954): people's mail programs
send through it; local mail goes through the accept pipeline, the rest to the outbox, and a
copy to the sender's Sent mailbox (docs/submission.md)."""

from __future__ import annotations

from mesyx.modes.client.submission.service import SubmissionService

__all__ = ["SubmissionService"]
