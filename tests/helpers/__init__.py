"""Helpers shared by Mesyx's tests (not fixtures: plain functions and classes).

``tests.helpers.daemon``: make node homes with the real ``mesyx`` CLI, run ``mesyx run``
as a subprocess, wait for its listeners, stop or kill it, talk SMTP to it, and scan a
home's bytes for plaintext.
"""
