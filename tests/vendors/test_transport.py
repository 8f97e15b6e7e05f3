"""How adapters reach a PMS over HTTP (vendors.base.thread_session): one session per thread,
its connections reused from one delivery to the next, no cookie kept between calls, and the
environment's proxy settings still heeded. Over real sockets, against a small server that
says what it saw."""

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.vendors.allow import allowing
from vendors import base
from vendors.adapters.dentalink import DentalinkAdapter

SECRET = "PMS_TRANSPORT_TEST_TOKEN"


class Seen:
    def __init__(self) -> None:
        self.connections = 0
        self.cookies: list[str | None] = []
        self.paths: list[str] = []


def serve(seen: Seen) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            seen.connections += 1

        def do_GET(self) -> None:
            seen.cookies.append(self.headers.get("Cookie"))
            seen.paths.append(self.path)
            body = b'{"data": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Set-Cookie", "session=of-another-clinic; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def pms(monkeypatch) -> Iterator[tuple[str, Seen]]:
    monkeypatch.setenv(SECRET, "secret-token")
    seen = Seen()
    server = serve(seen)
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    with allowing(url):
        yield url, seen
    server.shutdown()
    server.server_close()


def adapter(url: str) -> DentalinkAdapter:
    return DentalinkAdapter(
        base.ConnectionSettings(vendor="dentalink", base_url=url, secrets={"api_token": SECRET})
    )


def in_a_new_thread(work) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_deliveries_of_one_thread_reuse_its_connections(pms):
    url, seen = pms

    def three_deliveries() -> None:
        for _ in range(3):  # each delivery makes its own adapter
            adapter(url).call("GET", "pacientes")

    in_a_new_thread(three_deliveries)
    in_a_new_thread(three_deliveries)
    assert len(seen.paths) == 6
    assert seen.connections == 2  # one per thread


def test_no_cookie_a_pms_sets_is_ever_sent_back(pms):
    url, seen = pms

    def calls() -> None:
        adapter(url).call("GET", "pacientes")
        adapter(url).call("GET", "pacientes")

    in_a_new_thread(calls)
    assert seen.cookies == [None, None]


@pytest.mark.parametrize(("no_proxy", "through_proxy"), [("", True), ("127.0.0.1", False)])
def test_the_environment_s_proxy_is_heeded(pms, monkeypatch, no_proxy, through_proxy):
    url, seen = pms
    proxy = Seen()
    server = serve(proxy)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    base._environment.cache_clear()
    try:
        in_a_new_thread(lambda: adapter(url).call("GET", "pacientes"))
    finally:
        base._environment.cache_clear()
        server.shutdown()
        server.server_close()
    # A proxy is asked for the whole URL; the PMS itself only for its path.
    assert [path.startswith("http://") for path in proxy.paths] == ([True] if through_proxy else [])
    assert len(seen.paths) == (0 if through_proxy else 1)
