"""Fake remote services for these tests (see tests/fakes.py)."""

from tests.fakes import http, service, sleep, smtp, smtp_ssl, smtp_starttls, tls

__all__ = ["http", "service", "sleep", "smtp", "smtp_ssl", "smtp_starttls", "tls"]
