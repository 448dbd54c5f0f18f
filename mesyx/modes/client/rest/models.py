"""The REST API's request and response bodies: the typed models its OpenAPI document is made of."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AccountInfo", "LoginRequest", "LoginResponse"]

#: RFC 5321 section 4.5.3.1.3: a path (address) is at most 256 octets.
MAX_ADDRESS: int = 256
#: Passphrases are for people; 1 KiB is far above any that one types.
MAX_SECRET: int = 1024


class LoginRequest(BaseModel):
    """``POST /v1/login``: an address of the account and its passphrase or an app password."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=MAX_ADDRESS, description="any address of the account")
    password: str = Field(min_length=1, max_length=MAX_SECRET, description="the passphrase or an app password")


class LoginResponse(BaseModel):
    """A bearer token (RFC 6750) and when it stops working."""

    token: str = Field(description="send as Authorization: Bearer <token>")
    expires_at: datetime = Field(description="RFC 3339 time after which the token is refused")


class AccountInfo(BaseModel):
    """Who the bearer is."""

    account_id: str = Field(description="the account's opaque id, base32")
    address: str = Field(description="the primary address")
    addresses: list[str] = Field(description="every address of the account, primary first")
    expires_at: datetime = Field(description="when this token stops working")
