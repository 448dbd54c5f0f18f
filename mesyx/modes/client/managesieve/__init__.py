"""ManageSieve (RFC 5804) for a client node: users upload and activate SIEVE scripts.

:mod:`.protocol` reads command lines and writes responses (sans-IO), :mod:`.session`
runs the commands against a backend, :mod:`.server` is the asyncio connection around
them and :mod:`.service` the listener the client mode starts.
"""
