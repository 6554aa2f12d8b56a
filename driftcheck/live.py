"""The live side: the endpoint list from the PPIO API, or from a saved JSON file.

Either the whole list is returned or an error is raised: a partial listing must never
reach the comparison, where it would turn into false "missing" endpoints.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from driftcheck import __version__
from driftcheck.errors import ApiError, LiveError, UsageError
from driftcheck.textsafe import clean

LIST_PATH = "/gpus/v2/endpoints"
DEFAULT_API_URL = "https://api.ppio.com"
# A server asking to wait longer than this is treated as a failure, not waited out.
MAX_RETRY_WAIT = 120.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# One page of the list is a few hundred KB; a body past this is not a page.
MAX_PAGE_BYTES = 64 * 1024 * 1024

Notify = Callable[[str], None]


@dataclass(frozen=True)
class ApiSettings:
    """How to reach the list call; built by the CLI, used by `fetch_live`."""

    api_url: str = DEFAULT_API_URL
    api_key: str = ""
    page_size: int = 100
    member_ids: str | None = None
    keyword: str | None = None
    timeout: float = 30.0
    retries: int = 4
    max_pages: int = 10_000
    allow_insecure_http: bool = False
    ca_bundle: str | None = None


def _quiet(_: str) -> None:
    pass


def check_api_url(url: str, allow_insecure_http: bool) -> str:
    """The base URL without a trailing slash; plain http only to loopback hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api-url {url!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise UsageError(f"--api-url {url!r} must not carry a query or fragment")
    if parts.username or parts.password:
        raise UsageError("--api-url must not carry credentials; use PPIO_API_KEY")
    if (
        parts.scheme == "http"
        and not allow_insecure_http
        and not _loopback(parts.hostname)
    ):
        raise UsageError(
            f"refusing to send the API key over plain http to {parts.hostname}; "
            "use https, or pass --allow-insecure-http if you really mean it"
        )
    return url.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_live(
    settings: ApiSettings,
    *,
    notify: Notify = _quiet,
    progress: Callable[[int, int], None] | None = None,
    debug: Notify | None = None,
) -> list[dict[str, Any]]:
    """Every live endpoint, following cursors until the last page.

    `notify` receives lines worth showing on stderr (retries); `progress` the page
    count and endpoint count after each page; `debug` one line per request.
    """
    import httpx

    base = check_api_url(settings.api_url, settings.allow_insecure_http)
    if not settings.api_key:
        raise UsageError(
            "no API key: set PPIO_API_KEY (or use --live-file to read a saved list)"
        )
    if not all(" " <= ch <= "~" for ch in settings.api_key):
        raise UsageError(
            "the API key holds a line break, control or non-ASCII character, which "
            "an HTTP header cannot carry; check PPIO_API_KEY"
        )
    url = base + LIST_PATH
    client = httpx.Client(
        headers={
            "Authorization": f"Bearer {settings.api_key}",
            "Accept": "application/json",
            "User-Agent": f"driftcheck/{__version__}",
        },
        timeout=settings.timeout,
        verify=_tls_context(settings.ca_bundle),
        follow_redirects=False,
    )

    endpoints: list[dict[str, Any]] = []
    seen_cursors: set[str] = set()
    cursor = ""
    with client:
        for page in range(1, settings.max_pages + 1):
            params = {"limit": str(settings.page_size)}
            if cursor:
                params["cursor"] = cursor
            if settings.member_ids:
                params["member_ids"] = settings.member_ids
            if settings.keyword:
                params["keyword"] = settings.keyword

            body = _get_page(client, url, params, page, settings, notify, debug)
            data, has_more, next_cursor = _page_shape(body, url, page)
            endpoints.extend(data)
            if progress is not None:
                progress(page, len(endpoints))
            if not has_more:
                return check_live_shape(endpoints, url)
            if not next_cursor:
                raise ApiError(
                    f"{url}: page {page} says has_more but gives an empty next_cursor; "
                    "the listing cannot be completed"
                )
            if next_cursor in seen_cursors:
                raise ApiError(
                    f"{url}: page {page} repeats a cursor already followed; "
                    "the listing would never end. Try again later; if it persists, "
                    "the API is at fault"
                )
            seen_cursors.add(next_cursor)
            cursor = next_cursor

    raise ApiError(
        f"{url}: still more pages after {settings.max_pages}; stopped. "
        "Raise --max-pages if the account really has that many endpoints"
    )


def _tls_context(ca_bundle: str | None) -> Any:
    import os
    import ssl

    cafile = ca_bundle or os.environ.get("SSL_CERT_FILE") or None
    if cafile is None:
        return True
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use CA bundle {cafile}: {exc}") from None


@dataclass(frozen=True)
class _Answer:
    """A whole HTTP answer, read within the deadline and the size limit."""

    status_code: int
    headers: Any
    content: bytes


class _TooSlow(Exception):
    pass


def _request(client: Any, url: str, params: dict[str, str], timeout: float) -> _Answer:
    """GET with a deadline for the whole answer, not only between bytes.

    httpx's timeout bounds each network operation, so a server dripping a byte at a
    time could hold the run forever; this bounds the request as --timeout promises.
    """
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with client.stream("GET", url, params=params) as response:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_PAGE_BYTES:
                raise ApiError(
                    f"{url}: the answer is larger than {MAX_PAGE_BYTES // 1_048_576} "
                    "MiB; not a page of the list. Check --api-url"
                )
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _TooSlow
        return _Answer(response.status_code, response.headers, b"".join(chunks))


def _get_page(
    client: Any,
    url: str,
    params: dict[str, str],
    page: int,
    settings: ApiSettings,
    notify: Notify,
    debug: Notify | None,
) -> Any:
    import httpx

    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        wait: float | None = None
        try:
            response = _request(client, url, params, settings.timeout)
        except (httpx.TimeoutException, _TooSlow):
            reason = f"no answer within {settings.timeout:g}s"
            advice = "Raise --timeout if the API is only slow"
        except httpx.TransportError as exc:
            _raise_for_tls_failure(exc, url)
            reason = _transport_reason(exc)
            advice = "Check the network and --api-url"
        else:
            status = response.status_code
            if debug is not None:
                debug(f"GET {url} page {page} -> HTTP {status}")
            if status == 200:
                return _json_body(response, url, page)
            _raise_for_final_status(response, url)
            reason = f"HTTP {status}"
            advice = "Try again later"
            wait = _retry_after(response.headers.get("Retry-After"))

        if attempt == attempts:
            tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
            raise ApiError(
                f"{url}: giving up after {tries} on page {page}: {reason}. {advice}"
            )
        if wait is None:
            wait = random.uniform(
                0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
            )
        if wait > MAX_RETRY_WAIT:
            raise ApiError(
                f"{url}: {reason}; the server asks to wait {wait:.0f}s, longer than "
                f"driftcheck waits ({MAX_RETRY_WAIT:.0f}s). Try again later"
            )
        notify(
            f"driftcheck: {reason} on page {page}; retrying in {wait:.1f}s "
            f"(attempt {attempt + 1} of {attempts})"
        )
        time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _raise_for_tls_failure(exc: BaseException, url: str) -> None:
    """A certificate that fails verification fails the same way on every retry."""
    import ssl

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            problem = clean(cause.verify_message or str(cause))
            raise ApiError(
                f"{url}: the server's TLS certificate cannot be verified ({problem}). "
                "If a private CA signed it, pass that CA with --ca-bundle"
            ) from None
        cause = cause.__cause__ or cause.__context__


def _transport_reason(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({clean(_first_line(exc)) or 'connection failed'})"
    if isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError)):
        return "the connection broke while reading the answer"
    return f"network error: {type(exc).__name__}"


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


def _raise_for_final_status(response: Any, url: str) -> None:
    """Raise for answers that retrying cannot fix; return for retryable ones."""
    status = response.status_code
    if status == 429 or status >= 500:
        return
    detail = _error_detail(response)
    if status == 401:
        raise ApiError(
            f"{url}: authentication failed (HTTP 401){detail}. "
            "Check that PPIO_API_KEY holds a valid key"
        )
    if status == 403:
        raise ApiError(
            f"{url}: permission denied (HTTP 403){detail}. "
            "The key works but may not list serverless endpoints"
        )
    if 300 <= status < 400:
        target = clean(response.headers.get("Location", "?"))
        raise ApiError(
            f"{url}: the server redirects (HTTP {status}) to {target}; not followed, "
            "so "
            "the API key goes nowhere else. Check --api-url"
        )
    if status == 404:
        raise ApiError(
            f"{url}: not found (HTTP 404){detail}. Check --api-url "
            f"(the default is {DEFAULT_API_URL})"
        )
    raise ApiError(f"{url}: HTTP {status}{detail}")


def _error_detail(response: Any) -> str:
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f": {clean(body['message'][:200])}"
    return ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def strict_json(data: bytes) -> Any:
    """JSON as RFC 8259 has it: NaN, Infinity or a key given twice raise ValueError.

    Python accepts all three; a report would then carry them on, or silently keep
    the last of two `data` lists.
    """
    return json.loads(
        data, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _json_body(response: Any, url: str, page: int) -> Any:
    try:
        return strict_json(response.content)
    except ValueError:
        kind = clean(response.headers.get("Content-Type", "no content type"))
        raise ApiError(
            f"{url}: page {page} is not valid JSON ({kind}, "
            f"{len(response.content)} bytes); the listing cannot be trusted. "
            "An HTML page usually means a proxy or a wrong --api-url"
        ) from None


def _page_shape(body: Any, url: str, page: int) -> tuple[list[Any], bool, str]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ApiError(
            f"{url}: page {page} has no `data` list; not the documented response"
        )
    has_more = body.get("has_more")
    if not isinstance(has_more, bool):
        raise ApiError(f"{url}: page {page} has no boolean `has_more`")
    cursor = body.get("next_cursor", "")
    if cursor is None:
        cursor = ""
    if not isinstance(cursor, str):
        raise ApiError(f"{url}: page {page} has a `next_cursor` that is not a string")
    return body["data"], has_more, cursor


def read_live_file(path: str) -> list[dict[str, Any]]:
    """The live list saved as the API's response object or as a plain JSON list."""
    try:
        with open(path, "rb") as handle:
            body = strict_json(handle.read())
    except OSError as exc:
        raise LiveError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise LiveError(
            f"{path}: not valid JSON: {exc}. Save the API's response unchanged, "
            "or use driftcheck snapshot"
        ) from None

    if isinstance(body, dict):
        if not isinstance(body.get("data"), list):
            raise LiveError(
                f"{path}: expected the API's response object with a `data` list, "
                "or a JSON list of endpoints"
            )
        if body.get("has_more") is True:
            raise LiveError(
                f"{path}: holds one page of several (has_more is true); "
                "save the whole list"
            )
        body = body["data"]
    elif not isinstance(body, list):
        raise LiveError(
            f"{path}: expected a JSON list of endpoints or a response object"
        )
    return check_live_shape(body, path)


def check_live_shape(endpoints: list[Any], origin: str) -> list[dict[str, Any]]:
    """Each live endpoint must be a mapping with a string id and name; ids unique."""
    seen: dict[str, int] = {}
    for index, endpoint in enumerate(endpoints):
        where = f"{origin}: live endpoint #{index + 1}"
        if not isinstance(endpoint, dict):
            raise LiveError(f"{where} is not an object")
        endpoint_id = endpoint.get("id")
        if not isinstance(endpoint_id, str) or not endpoint_id:
            raise LiveError(f"{where} has no `id`")
        if not isinstance(endpoint.get("name"), str):
            raise LiveError(f"{where} (id {clean(endpoint_id)}) has no `name`")
        if endpoint_id in seen:
            raise LiveError(
                f"{where}: id {clean(endpoint_id)} also appears as endpoint "
                f"#{seen[endpoint_id]}; the list cannot be trusted"
            )
        seen[endpoint_id] = index + 1
    return endpoints
