"""Tests of the test infrastructure: the fake PPIO API, the CLI runner, the guard."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import UNREACHABLE_API_URL, NetworkAccessBlocked
from .fake_ppio import (
    DEFAULT_API_KEY,
    DROP,
    Exchange,
    FakePPIO,
    Response,
    broken_json,
    close_without_response,
    cursor_for,
    data_not_list,
    empty_cursor_has_more,
    endless_pages,
    gzip_body,
    html_200,
    make_endpoint,
    raw,
    redirect,
    repeat_cursor,
    reset_mid_body,
    slow,
    status,
)

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``; return status, headers and body, also for HTTP errors."""
    request = urllib.request.Request(url, headers=AUTH if headers is None else headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def get_page(fake: FakePPIO, query: str = "") -> tuple[int, Any]:
    code, _, body = fetch(fake.list_url + (f"?{query}" if query else ""))
    return code, json.loads(body)


# -- the normal API ---------------------------------------------------------


def test_pagination_with_page_cap_walks_every_endpoint_once(
    fake_api: FakePPIO,
) -> None:
    fake_api.endpoints = [make_endpoint(f"model-{i}") for i in range(7)]
    fake_api.page_cap = 3

    seen: list[str] = []
    cursor = ""
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        code, page = get_page(fake_api, query)
        assert code == 200
        seen.extend(e["id"] for e in page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] == ""
            break
        assert page["next_cursor"]
        cursor = page["next_cursor"]

    assert seen == [e["id"] for e in fake_api.endpoints]
    assert [len(r.query.get("cursor", "")) > 0 for r in fake_api.requests] == [
        False,
        True,
        True,
    ]
    assert all(r.query["limit"] == "100" for r in fake_api.requests)


def test_default_limit_is_twenty_and_response_is_json(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [make_endpoint(f"m{i}") for i in range(25)]

    code, headers, body = fetch(fake_api.list_url)

    assert code == 200
    assert headers["Content-Type"] == "application/json"
    page = json.loads(body)
    assert len(page["data"]) == 20
    assert page["has_more"] is True
    assert page["next_cursor"] == cursor_for(20)


def test_requests_are_recorded(fake_api: FakePPIO) -> None:
    fetch(fake_api.list_url + "?limit=5&keyword=x")

    (request,) = fake_api.requests
    assert request.number == 1
    assert request.method == "GET"
    assert request.path == "/gpus/v2/endpoints"
    assert request.query == {"limit": "5", "keyword": "x"}
    assert request.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": DEFAULT_API_KEY}],
    ids=["missing", "wrong-key", "no-bearer"],
)
def test_bad_or_missing_key_is_401(fake_api: FakePPIO, headers: dict[str, str]) -> None:
    code, _, body = fetch(fake_api.list_url, headers=headers)

    assert code == 401
    assert json.loads(body) == {
        "code": 401,
        "reason": "UNAUTHORIZED",
        "message": "invalid api key",
    }


def test_other_paths_are_404(fake_api: FakePPIO) -> None:
    code, headers, body = fetch(fake_api.url + "/gpus/v2/endpoints/abc")

    assert code == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": "not found"}


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=-1", "cursor=nonsense", "cursor=%21%21"]
)
def test_bad_parameters_are_400(fake_api: FakePPIO, query: str) -> None:
    code, page = get_page(fake_api, query)

    assert code == 400
    assert page["code"] == 400


def test_keyword_and_member_ids_filter(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [
        make_endpoint("llama-chat", member_id="m1"),
        make_endpoint("llama-embed", member_id="m2"),
        make_endpoint("whisper", member_id="m1"),
    ]

    _, by_keyword = get_page(fake_api, "keyword=LLAMA")
    _, by_member = get_page(fake_api, "member_ids=m1,m3")
    _, both = get_page(fake_api, "keyword=llama&member_ids=m2")

    assert [e["name"] for e in by_keyword["data"]] == ["llama-chat", "llama-embed"]
    assert [e["name"] for e in by_member["data"]] == ["llama-chat", "whisper"]
    assert [e["name"] for e in both["data"]] == ["llama-embed"]


def test_context_manager_serves_then_stops() -> None:
    with FakePPIO([make_endpoint("a")]) as fake:
        url = fake.list_url
        assert get_page(fake)[0] == 200

    with pytest.raises(urllib.error.URLError):
        fetch(url)
    with pytest.raises(RuntimeError):
        fake.url  # noqa: B018


def test_stop_does_not_wait_for_an_idle_keep_alive_connection() -> None:
    fake = FakePPIO().start()
    conn = http.client.HTTPConnection("127.0.0.1", int(fake.url.rsplit(":", 1)[1]))
    try:
        conn.request("GET", "/gpus/v2/endpoints", headers=AUTH)
        conn.getresponse().read()

        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 1
    finally:
        conn.close()


# -- faults -------------------------------------------------------------------


def test_503_once_then_success(fake_api: FakePPIO) -> None:
    fake_api.add_fault(status(503))

    first = fetch(fake_api.list_url)
    second = fetch(fake_api.list_url)

    assert first[0] == 503
    assert json.loads(first[2]) == {"message": "service unavailable"}
    assert second[0] == 200
    assert fake_api.pending_faults() == []


def test_numbered_fault_hits_only_that_request(fake_api: FakePPIO) -> None:
    fake_api.add_fault(status(429, headers={"Retry-After": "2"}), on_request=2)

    codes = []
    for _ in range(3):
        code, headers, _ = fetch(fake_api.list_url)
        codes.append((code, headers.get("Retry-After")))

    assert codes == [(200, None), (429, "2"), (200, None)]


def test_fault_times_and_always(fake_api: FakePPIO) -> None:
    fake_api.always(status(500))
    fake_api.add_fault(status(502), times=2)

    codes = [fetch(fake_api.list_url)[0] for _ in range(3)]
    fake_api.always(None)
    codes.append(fetch(fake_api.list_url)[0])

    assert codes == [502, 502, 500, 200]


def test_fault_for_a_past_request_is_refused(fake_api: FakePPIO) -> None:
    fetch(fake_api.list_url)

    with pytest.raises(ValueError, match="already been served"):
        fake_api.add_fault(status(500), on_request=1)


def test_broken_json(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [make_endpoint("a")]
    fake_api.add_fault(broken_json())

    code, headers, body = fetch(fake_api.list_url)

    assert code == 200
    assert headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_gzip_body(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [make_endpoint("a")]
    fake_api.add_fault(gzip_body())

    code, headers, body = fetch(fake_api.list_url)

    assert code == 200
    assert headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["data"][0]["name"] == "a"


def test_html_and_data_not_list(fake_api: FakePPIO) -> None:
    fake_api.add_fault(html_200())
    fake_api.add_fault(data_not_list())

    html = fetch(fake_api.list_url)
    _, page = get_page(fake_api)

    assert html[0] == 200
    assert html[1]["Content-Type"].startswith("text/html")
    assert html[2].startswith(b"<!DOCTYPE html>")
    assert not isinstance(page["data"], list)


def test_cursor_shaped_faults_keep_the_page(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [make_endpoint(f"m{i}") for i in range(3)]
    fake_api.add_fault(repeat_cursor())
    fake_api.add_fault(repeat_cursor())
    fake_api.add_fault(empty_cursor_has_more())

    _, first = get_page(fake_api, "limit=2")
    _, again = get_page(fake_api, f"limit=2&cursor={first['next_cursor']}")
    _, empty = get_page(fake_api, "limit=2")

    assert len(first["data"]) == 2 and first["has_more"] is True
    assert again["next_cursor"] == first["next_cursor"]
    assert again["data"] == first["data"]
    assert empty["next_cursor"] == "" and empty["has_more"] is True
    assert len(empty["data"]) == 2


def test_endless_pages_never_end(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [make_endpoint("only")]
    fake_api.always(endless_pages())

    cursors = []
    cursor = ""
    for _ in range(5):
        _, page = get_page(fake_api, f"cursor={cursor}" if cursor else "")
        assert page["has_more"] is True
        cursor = page["next_cursor"]
        cursors.append(cursor)

    assert len(set(cursors)) == 5


def test_slow_answer_times_out_the_client(fake_api: FakePPIO) -> None:
    fake_api.add_fault(slow(2))

    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        fetch(fake_api.list_url, timeout=0.2)
    assert time.monotonic() - started < 1
    # stop() interrupts the sleeping handler instead of waiting it out.


def test_slow_then_answers_normally(fake_api: FakePPIO) -> None:
    fake_api.add_fault(slow(0.05))

    assert fetch(fake_api.list_url)[0] == 200


def test_reset_mid_body(fake_api: FakePPIO) -> None:
    fake_api.endpoints = [make_endpoint("a"), make_endpoint("b")]
    fake_api.add_fault(reset_mid_body())

    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        fetch(fake_api.list_url)


def test_close_without_response(fake_api: FakePPIO) -> None:
    fake_api.add_fault(close_without_response())

    with pytest.raises(http.client.RemoteDisconnected):
        fetch(fake_api.list_url)


def test_redirect_and_raw(fake_api: FakePPIO) -> None:
    fake_api.add_fault(redirect("https://elsewhere.example/gpus/v2/endpoints", 307))
    fake_api.add_fault(raw(200, b"not json", {"Content-Type": "text/plain"}))

    moved = fetch(fake_api.list_url)
    plain = fetch(fake_api.list_url)

    assert moved[0] == 307
    assert moved[1]["Location"] == "https://elsewhere.example/gpus/v2/endpoints"
    assert plain == (200, plain[1], b"not json")
    assert plain[1]["Content-Type"] == "text/plain"


def test_custom_fault_is_any_callable_and_bugs_are_recorded() -> None:
    def teapot(exchange: Exchange) -> None:
        assert exchange.normal().status == 200
        exchange.send(Response(418, b"short and stout"))

    def buggy(exchange: Exchange) -> None:
        raise KeyError("oops")

    with FakePPIO() as fake:
        fake.add_fault(teapot)
        fake.add_fault(buggy)
        teapot_answer = fetch(fake.list_url)
        with pytest.raises(http.client.RemoteDisconnected):
            fetch(fake.list_url)

    assert teapot_answer[0] == 418 and teapot_answer[2] == b"short and stout"
    assert len(fake.errors) == 1 and "KeyError: 'oops'" in fake.errors[0]


# -- make_endpoint --------------------------------------------------------------


def test_make_endpoint_shape_and_overrides() -> None:
    endpoint = make_endpoint(
        "Chat Model",
        worker_config={"max_replicas": 5},
        envs={"HF_TOKEN": "secret"},
        ports=[9000],
        registry_auth_id=DROP,
    )

    assert list(make_endpoint("x")) == [
        "id", "name", "app_name", "status", "url", "product_id", "worker_config",
        "policy", "image", "registry_auth_id", "entrypoint", "command", "volumes",
        "envs", "ports", "workers", "health_check", "region_id", "member_id",
        "owner_id", "created_at",
    ]  # fmt: skip
    assert endpoint["app_name"] == "chat-model"
    assert endpoint["worker_config"]["max_replicas"] == 5
    assert endpoint["worker_config"]["min_cuda_version"] == "12.4"
    assert endpoint["envs"] == [{"key": "HF_TOKEN", "value": "secret"}]
    assert endpoint["ports"] == [9000]
    assert "registry_auth_id" not in endpoint
    assert make_endpoint("x")["id"] == make_endpoint("x")["id"]
    assert make_endpoint("x", id="ep-1")["id"] == "ep-1"


# -- network guard and CLI runner -----------------------------------------------


@pytest.mark.parametrize("address", [("10.255.255.1", 80), ("example.com", 443)])
def test_guard_blocks_non_loopback(address: tuple[str, int]) -> None:
    with pytest.raises(NetworkAccessBlocked, match=address[0]):
        socket.create_connection(address, timeout=0.1)

    with socket.socket() as sock, pytest.raises(NetworkAccessBlocked):
        sock.connect(("10.255.255.1", 80))


def test_guard_allows_loopback(fake_api: FakePPIO) -> None:
    port = int(fake_api.url.rsplit(":", 1)[1])

    with socket.create_connection(("localhost", port), timeout=1):
        pass


def test_run_cli_environment_and_streams(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in package in cwd shadows the real one: this tests the runner only.
    package = tmp_path / "driftcheck"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import json, os, sys\n"
        "names = ['PPIO_API_URL', 'PPIO_API_KEY', 'CI', 'EXTRA', 'HOME_X']\n"
        "print(json.dumps({n: os.environ.get(n) for n in names}))\n"
        "print('args', sys.argv[1:], sys.stdin.read(), file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    monkeypatch.setenv("PPIO_API_KEY", "leaked")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("HOME_X", "kept-then-removed")

    result = run_cli(
        "check",
        tmp_path / "x.yaml",
        env={"EXTRA": "1", "HOME_X": None},
        cwd=tmp_path,
        input="stdin text",
    )

    assert result.code == 3
    assert json.loads(result.stdout) == {
        "PPIO_API_URL": UNREACHABLE_API_URL,
        "PPIO_API_KEY": None,
        "CI": None,
        "EXTRA": "1",
        "HOME_X": None,
    }
    assert result.stderr == f"args ['check', '{tmp_path / 'x.yaml'}'] stdin text\n"
