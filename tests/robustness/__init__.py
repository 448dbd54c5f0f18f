"""Robustness tests: bad SMTP input, kill -9 while sending, malformed config files."""
