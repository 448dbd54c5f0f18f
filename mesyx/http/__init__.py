"""The one HTTP stack of Mesyx (aiohttp + pydantic, docs/http.md): typed routes whose
OpenAPI document is generated, RFC 9457 problem details at the edge, and listeners on
the daemon's exit stack. Shared by every mode that speaks HTTP; imports no mode."""
