"""Unit tests of the API client's small decisions, one function at a time.

The user's path through the client (paging, retries, errors) is covered end to end
against the fake PPIO API in test_cli_check.py.
"""

from __future__ import annotations

import email.utils
import re
import time

import pytest

from driftcheck.errors import UsageError
from driftcheck.live import _retry_after, check_api_url


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://api.ppio.com", "https://api.ppio.com"),
        ("https://api.ppio.com/", "https://api.ppio.com"),
        ("https://gateway.example.com/ppio/", "https://gateway.example.com/ppio"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://LOCALHOST", "http://LOCALHOST"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_accepted_api_urls(url: str, base: str) -> None:
    assert check_api_url(url, allow_insecure_http=False) == base


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://192.0.2.1", "--allow-insecure-http"),
        ("http://api.ppio.com", "--allow-insecure-http"),
        ("http://localhost.example.com", "--allow-insecure-http"),
        ("ftp://api.ppio.com", "not an http(s) URL"),
        ("api.ppio.com", "not an http(s) URL"),
        ("https://", "not an http(s) URL"),
        ("https://api.ppio.com/?region=1", "query or fragment"),
        ("https://api.ppio.com/#top", "query or fragment"),
        ("https://user:secret@api.ppio.com", "PPIO_API_KEY"),
    ],
)
def test_refused_api_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as caught:
        check_api_url(url, allow_insecure_http=False)

    assert "secret" not in str(caught.value)


def test_insecure_http_allowed_when_asked() -> None:
    assert check_api_url("http://192.0.2.1/", allow_insecure_http=True) == (
        "http://192.0.2.1"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("1", 1.0),
        (" 7 ", 7.0),
        ("600", 600.0),
        ("soon", None),
        ("-1", None),
        ("1.5", None),
    ],
)
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert _retry_after(value) == seconds


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)

    wait = _retry_after(when)

    assert wait is not None
    assert 28 <= wait <= 31


def test_retry_after_date_in_the_past_means_now() -> None:
    assert _retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0
