"""Cryptography of Mesyx: node keys, account keys, keysets and the envelope.

Everything here is built from libsodium (PyNaCl) and, for X.509 only, `cryptography`;
nothing is hand-rolled. Every failure to verify or decrypt raises
:class:`mesyx.errors.CryptoError`, never returns a wrong plaintext.
"""
