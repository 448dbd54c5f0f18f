"""Exchange mode: blind replication with cluster peers over HTTPS (docs/sync-protocol.md)."""

from mesyx.modes.exchange.service import ExchangeService

__all__ = ["ExchangeService"]
