"""Mesyx: a message-exchange daemon whose servers cannot read the messages they carry.

One daemon runs any combination of four modes (accept, exchange, client, reencrypt) so
that each key lives only on the nodes that need it; see docs/architecture.md.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
