"""A fake PPIO endpoint list API, served for real on 127.0.0.1.

Tests run the real ``driftcheck`` command against it. Faults are scripted per
request (``add_fault``) or for every request (``always``), so a test can say
"the second page answers 503 once" and then assert how the client copes.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import gzip
import hashlib
import json
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "DEFAULT_API_KEY",
    "DROP",
    "LIST_PATH",
    "Exchange",
    "FakePPIO",
    "Fault",
    "RecordedRequest",
    "Response",
    "broken_json",
    "close_without_response",
    "cursor_for",
    "data_not_list",
    "empty_cursor_has_more",
    "endless_pages",
    "gzip_body",
    "html_200",
    "make_endpoint",
    "raw",
    "redirect",
    "repeat_cursor",
    "reset_mid_body",
    "slow",
    "status",
]

DEFAULT_API_KEY = "test-key-0123456789"
LIST_PATH = "/gpus/v2/endpoints"
DEFAULT_LIMIT = 20
MAX_CURSOR_LENGTH = 1024

_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_CURSOR_TEXT = re.compile(r"offset:(\d+)")


# ---------------------------------------------------------------------------
# Recorded requests and responses


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; header names are lowercased."""

    number: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    """An answer the handler sends; ``page`` is set on a normal list page."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    page: dict[str, Any] | None = None


def _json_response(
    code: int, payload: Any, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    merged = {"Content-Type": "application/json", **(headers or {})}
    page = payload if code == 200 and _looks_like_page(payload) else None
    return Response(code, body, merged, page)


def _looks_like_page(payload: Any) -> bool:
    return isinstance(payload, dict) and {"data", "next_cursor", "has_more"} <= set(
        payload
    )


def _api_error(code: int, reason: str, message: str) -> Response:
    return _json_response(code, {"code": code, "reason": reason, "message": message})


def cursor_for(offset: int) -> str:
    """Return the cursor the fake issues for the page starting at ``offset``."""
    text = f"offset:{offset}".encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode("ascii")


def _offset_from_cursor(cursor: str) -> int | None:
    if not _CURSOR_CHARS.fullmatch(cursor) or len(cursor) > MAX_CURSOR_LENGTH:
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = base64.urlsafe_b64decode(padded).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    match = _CURSOR_TEXT.fullmatch(text)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------
# The exchange a fault works on


class Exchange:
    """One request in flight: what was asked, the normal answer, the socket."""

    def __init__(
        self,
        fake: FakePPIO,
        handler: BaseHTTPRequestHandler,
        request: RecordedRequest,
    ) -> None:
        self.fake = fake
        self.handler = handler
        self.request = request
        self._normal: Response | None = None

    def normal(self) -> Response:
        """The answer the fake gives when no fault applies (built once)."""
        if self._normal is None:
            self._normal = self.fake._normal_response(self.request)
        return self._normal

    def send(self, response: Response) -> None:
        """Write ``response``; adds Content-Length unless a length is set."""
        handler = self.handler
        names = {name.lower() for name in response.headers}
        handler.send_response(response.status)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        if "content-length" not in names and "transfer-encoding" not in names:
            handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        if response.body:
            handler.wfile.write(response.body)
        handler.wfile.flush()

    def wait(self, seconds: float) -> bool:
        """Sleep, waking early when the fake stops; True if it slept fully."""
        return not self.fake._stopping.wait(seconds)

    def abort(self, reset: bool = True) -> None:
        """Close the connection now; with ``reset`` the peer gets a TCP RST."""
        handler = self.handler
        handler.close_connection = True
        conn = handler.connection
        try:
            handler.wfile.flush()
            if reset:
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            conn.close()
            # The socket stays open while its reader holds a reference.
            handler.rfile.close()
        except OSError:
            pass


Fault = Callable[[Exchange], None]
"""A fault answers one request in place of the normal answer."""


# ---------------------------------------------------------------------------
# Fault factories


def _body_and_type(body: Any) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body).encode("utf-8"), "application/json"


@dataclass(frozen=True)
class _Status:
    code: int
    body: Any
    headers: Mapping[str, str]

    def __call__(self, exchange: Exchange) -> None:
        if self.body is None:
            phrase = HTTPStatus(self.code).phrase.lower()
            body, content_type = _body_and_type({"message": phrase})
        else:
            body, content_type = _body_and_type(self.body)
        headers = {"Content-Type": content_type, **self.headers}
        exchange.send(Response(self.code, body, headers))


def status(
    code: int, body: Any = None, headers: Mapping[str, str] | None = None
) -> Fault:
    """Answer ``code``; body dict/list -> JSON, str -> text, bytes -> as is.

    Without a body the answer is ``{"message": "<reason phrase>"}``.
    """
    return _Status(code, body, dict(headers or {}))


@dataclass(frozen=True)
class _Raw:
    code: int
    body: bytes
    headers: Mapping[str, str]

    def __call__(self, exchange: Exchange) -> None:
        exchange.send(Response(self.code, self.body, dict(self.headers)))


def raw(
    code: int, body_bytes: bytes = b"", headers: Mapping[str, str] | None = None
) -> Fault:
    """Answer exactly these bytes and headers (Content-Length added if absent)."""
    return _Raw(code, body_bytes, dict(headers or {}))


@dataclass(frozen=True)
class _BrokenJson:
    def __call__(self, exchange: Exchange) -> None:
        normal = exchange.normal().body or b'{"data": [], "next_cursor": ""}'
        cut = normal[: max(1, len(normal) // 2)]
        exchange.send(Response(200, cut, {"Content-Type": "application/json"}))


def broken_json() -> Fault:
    """Answer 200 with the first half of the normal JSON body."""
    return _BrokenJson()


_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server is unavailable."
    b"</p></body></html>\n"
)


@dataclass(frozen=True)
class _Html200:
    def __call__(self, exchange: Exchange) -> None:
        headers = {"Content-Type": "text/html; charset=utf-8"}
        exchange.send(Response(200, _HTML_PAGE, headers))


def html_200() -> Fault:
    """Answer 200 with an HTML error page, as a misbehaving proxy would."""
    return _Html200()


@dataclass(frozen=True)
class _DataNotList:
    data: Any

    def __call__(self, exchange: Exchange) -> None:
        payload = {"data": self.data, "next_cursor": "", "has_more": False}
        exchange.send(_json_response(200, payload))


def data_not_list(data: Any = None) -> Fault:
    """Answer 200 where ``data`` is not a list (an object by default)."""
    return _DataNotList({"endpoints": []} if data is None else data)


def _reshape_page(exchange: Exchange, next_cursor: str, has_more: bool) -> None:
    normal = exchange.normal()
    if normal.page is None:
        exchange.send(normal)
        return
    page = dict(normal.page, next_cursor=next_cursor, has_more=has_more)
    exchange.send(_json_response(200, page))


@dataclass(frozen=True)
class _RepeatCursor:
    def __call__(self, exchange: Exchange) -> None:
        cursor = exchange.request.query.get("cursor") or cursor_for(0)
        _reshape_page(exchange, cursor, True)


def repeat_cursor() -> Fault:
    """Serve the page but hand back the request's own cursor, ``has_more`` true.

    On a first page (no cursor) the cursor returned points at that same page.
    """
    return _RepeatCursor()


@dataclass(frozen=True)
class _EmptyCursorHasMore:
    def __call__(self, exchange: Exchange) -> None:
        _reshape_page(exchange, "", True)


def empty_cursor_has_more() -> Fault:
    """Serve the page with ``next_cursor`` empty yet ``has_more`` true."""
    return _EmptyCursorHasMore()


@dataclass(frozen=True)
class _EndlessPages:
    def __call__(self, exchange: Exchange) -> None:
        normal = exchange.normal()
        if normal.page is None:
            exchange.send(normal)
            return
        offset = _offset_from_cursor(exchange.request.query.get("cursor") or "")
        step = max(1, len(normal.page["data"]))
        _reshape_page(exchange, cursor_for((offset or 0) + step), True)


def endless_pages() -> Fault:
    """Serve the page with ``has_more`` true and a new cursor, past the end too.

    Use with ``always`` to model a server that never stops paging.
    """
    return _EndlessPages()


@dataclass(frozen=True)
class _GzipBody:
    def __call__(self, exchange: Exchange) -> None:
        normal = exchange.normal()
        body = gzip.compress(normal.body, mtime=0)
        headers = dict(normal.headers, **{"Content-Encoding": "gzip"})
        exchange.send(Response(normal.status, body, headers))


def gzip_body() -> Fault:
    """Serve the normal answer gzip-compressed with Content-Encoding: gzip."""
    return _GzipBody()


@dataclass(frozen=True)
class _Slow:
    seconds: float
    then: Fault | None

    def __call__(self, exchange: Exchange) -> None:
        if not exchange.wait(self.seconds):
            exchange.abort(reset=False)
            return
        if self.then is not None:
            self.then(exchange)
        else:
            exchange.send(exchange.normal())


def slow(seconds: float, then: Fault | None = None) -> Fault:
    """Sleep ``seconds``, then answer normally (or as the fault ``then`` says)."""
    return _Slow(seconds, then)


@dataclass(frozen=True)
class _ResetMidBody:
    def __call__(self, exchange: Exchange) -> None:
        body = exchange.normal().body or b'{"data": []}'
        part = body[: max(1, len(body) // 2)]
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body) + 100),
        }
        exchange.send(Response(200, part, headers))
        # Give the partial body time to arrive before the reset overtakes it.
        time.sleep(0.02)
        exchange.abort(reset=True)


def reset_mid_body() -> Fault:
    """Promise more bytes than sent, write half the body, then reset the socket."""
    return _ResetMidBody()


@dataclass(frozen=True)
class _CloseWithoutResponse:
    def __call__(self, exchange: Exchange) -> None:
        exchange.abort(reset=False)


def close_without_response() -> Fault:
    """Close the connection without writing a single byte."""
    return _CloseWithoutResponse()


@dataclass(frozen=True)
class _Redirect:
    location: str
    code: int

    def __call__(self, exchange: Exchange) -> None:
        headers = {"Location": self.location}
        body, content_type = _body_and_type({"message": "moved"})
        headers["Content-Type"] = content_type
        exchange.send(Response(self.code, body, headers))


def redirect(location: str, code: int = 302) -> Fault:
    """Answer a redirect to ``location``."""
    return _Redirect(location, code)


# ---------------------------------------------------------------------------
# Endpoint objects


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()
"""Override value that removes a key from ``make_endpoint``'s result."""


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "endpoint"


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if value is DROP:
            base.pop(key, None)
        elif key == "envs" and isinstance(value, Mapping):
            base[key] = [{"key": k, "value": v} for k, v in value.items()]
        elif isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def make_endpoint(name: str, id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Build a full live endpoint object as the list call returns it.

    Nested mappings in ``overrides`` merge into the defaults; lists replace
    them; ``envs`` may be given as a mapping; ``DROP`` removes a key.
    """
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    endpoint_id = id if id is not None else f"ep-{digest[:16]}"
    app_name = _slug(name)
    endpoint: dict[str, Any] = {
        "id": endpoint_id,
        "name": name,
        "app_name": app_name,
        "status": {"status": "running", "error": "", "message": ""},
        "url": f"https://serverless.example.com/{endpoint_id}",
        "product_id": "1",
        "worker_config": {
            "max_replicas": 2,
            "min_replicas": 0,
            "idle_timeout": 300,
            "max_concurrent_per_worker": 10,
            "gpu_num": 1,
            "rootfs_size_gb": 20,
            "min_cuda_version": "12.4",
            "request_timeout": 60,
        },
        "policy": {"type": "queue", "value": 100},
        "image": f"registry.example.com/ml/{app_name}:1.0.0",
        "registry_auth_id": "",
        "entrypoint": "",
        "command": "python -m server",
        "volumes": [
            {
                "id": f"vol-{digest[16:28]}",
                "type": "network",
                "size": 50,
                "mount_point": "/data",
            }
        ],
        "envs": [
            {"key": "LOG_LEVEL", "value": "info"},
            {"key": "MODEL_NAME", "value": app_name},
        ],
        "ports": [8080],
        "workers": [
            {
                "id": f"wk-{digest[28:40]}",
                "status": {"status": "ready", "error": "", "message": ""},
                "log": f"https://logs.example.com/wk-{digest[28:40]}",
                "health": True,
                "drain": False,
            }
        ],
        "health_check": {"path": "/healthz", "port": 8080},
        "region_id": "region-1",
        "member_id": "member-0001",
        "owner_id": "55555555-e29b-41d4-a716-446655440000",
        "created_at": 1710000000,
    }
    _merge(endpoint, overrides)
    return endpoint


# ---------------------------------------------------------------------------
# The server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakePPIO/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def _dispatch(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True

    def __init__(self, fake: FakePPIO) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.fake._record_error()


@dataclass
class _Queued:
    fault: Fault
    remaining: int


class FakePPIO:
    """A PPIO list API on 127.0.0.1 with scriptable faults.

    Use as a context manager or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        endpoints: list[dict[str, Any]] | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        page_cap: int | None = None,
    ) -> None:
        self.endpoints: list[dict[str, Any]] = list(endpoints or [])
        self.api_key = api_key
        self.page_cap = page_cap
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._numbered: dict[int, Fault] = {}
        self._queued: deque[_Queued] = deque()
        self._always: Fault | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakePPIO:
        """Bind a random loopback port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakePPIO is already running")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-ppio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and wait for handler threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            open_connections = list(self._connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakePPIO:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakePPIO is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def list_url(self) -> str:
        """Full URL of the list call."""
        return self.url + LIST_PATH

    # -- faults ------------------------------------------------------------

    def add_fault(
        self, fault: Fault, on_request: int | None = None, times: int = 1
    ) -> None:
        """Apply ``fault`` on request ``on_request`` (1-based) and the ``times - 1``
        after it, or, without ``on_request``, on the next ``times`` requests.

        A numbered fault wins over queued ones, which win over ``always``.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            if on_request is None:
                self._queued.append(_Queued(fault, times))
                return
            seen = len(self.requests)
            if on_request <= seen:
                raise ValueError(
                    f"request {on_request} has already been served ({seen} so far)"
                )
            numbers = range(on_request, on_request + times)
            taken = [n for n in numbers if n in self._numbered]
            if taken:
                raise ValueError(f"a fault is already set for request {taken[0]}")
            for number in numbers:
                self._numbered[number] = fault

    def always(self, fault: Fault | None) -> None:
        """Apply ``fault`` to every request no scripted fault claims (None clears)."""
        with self._lock:
            self._always = fault

    def clear_faults(self) -> None:
        """Forget every scripted fault and the ``always`` fault."""
        with self._lock:
            self._numbered.clear()
            self._queued.clear()
            self._always = None

    def pending_faults(self) -> list[Fault]:
        """Scripted faults not yet used, so a test can check they all fired."""
        with self._lock:
            pending = [self._numbered[n] for n in sorted(self._numbered)]
            for queued in self._queued:
                pending.extend([queued.fault] * queued.remaining)
        return pending

    def _take_fault(self, number: int) -> Fault | None:
        if number in self._numbered:
            return self._numbered.pop(number)
        if self._queued:
            head = self._queued[0]
            head.remaining -= 1
            if head.remaining == 0:
                self._queued.popleft()
            return head.fault
        return self._always

    # -- request handling --------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record_error(self) -> None:
        # A client that hangs up early is normal here; anything else is a bug.
        text = traceback.format_exc()
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            with self._lock:
                self.errors.append(text)

    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        query = dict(parse_qsl(parts.query, keep_blank_values=True))

        with self._lock:
            number = len(self.requests) + 1
            request = RecordedRequest(
                number, handler.command, parts.path, query, headers, body
            )
            self.requests.append(request)
            fault = self._take_fault(number)

        exchange = Exchange(self, handler, request)
        if fault is None:
            exchange.send(exchange.normal())
        else:
            fault(exchange)

    def _normal_response(self, request: RecordedRequest) -> Response:
        if request.path != LIST_PATH:
            return _json_response(404, {"message": "not found"})
        if request.method != "GET":
            return _json_response(
                405, {"message": "method not allowed"}, {"Allow": "GET"}
            )
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _api_error(401, "UNAUTHORIZED", "invalid api key")

        query = request.query
        raw_limit = query.get("limit", str(DEFAULT_LIMIT))
        if not raw_limit.isdigit():
            return _api_error(400, "INVALID_ARGUMENT", "limit must be an integer >= 0")
        limit = int(raw_limit)
        cursor = query.get("cursor", "")
        offset = _offset_from_cursor(cursor) if cursor else 0
        if offset is None:
            return _api_error(400, "INVALID_ARGUMENT", "invalid cursor")

        keyword = query.get("keyword", "").lower()
        members = {m.strip() for m in query.get("member_ids", "").split(",")} - {""}
        size = limit if self.page_cap is None else min(limit, self.page_cap)
        # Filter first and copy only the page: copying every endpoint on every
        # request would make the fake, not the client, the cost of a large
        # listing.
        with self._lock:
            matching = self.endpoints
            if keyword:
                matching = [
                    e for e in matching if keyword in str(e.get("name", "")).lower()
                ]
            if members:
                matching = [e for e in matching if e.get("member_id") in members]
            data = copy.deepcopy(matching[offset : offset + size])
            total = len(matching)
        end = offset + len(data)
        has_more = end < total
        payload = {
            "data": data,
            "next_cursor": cursor_for(end) if has_more else "",
            "has_more": has_more,
        }
        return _json_response(200, payload)
