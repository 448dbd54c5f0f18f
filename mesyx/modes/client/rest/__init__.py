"""The client mode's HTTP side: REST API, its OpenAPI document and docs, Thunderbird autoconfig."""

from __future__ import annotations

from mesyx.modes.client.rest.service import RestService

__all__ = ["RestService"]
