"""A small JSON-over-HTTP server with in-memory state and fault knobs.

A vendor simulator subclasses `Simulator`, lists its `routes` and answers with the vendor's
documented shapes. Faults are queued per path and consumed one request at a time; the
`*_after` faults act first (store the booking) and then fail the answer, which is how a
client ends up not knowing whether its request was acted on. `500_echo` answers a plain-text
error page that quotes the request it got, as some servers' error pages do. `302` redirects
to `redirect_to`.

Control endpoints (also used by the browser tests):
  POST /__simulator/faults  {"faults": ["500", "timeout_after", ...], "path": "/citas",
                             "latency_ms": 0}
  POST /__simulator/reset
  GET  /__simulator/state
  POST /__simulator/direct  {"action": "book", "practitioner": "1",
                             "start": "2027-01-04T10:00:00-03:00", "minutes": 30,
                             "room": "2", "location": "1", "patient": "501",
                             "kind": "appointment" | "block"}
                            {"action": "move", "id": "754", "start": "...", "minutes": 30}
                            {"action": "cancel", "id": "754"}   {"action": "delete", "id": "754"}
       What staff do in the PMS itself (not through its API): book, block, move, cancel or
       delete directly. IDs are the vendor's; answers {"id": ...}. `manage.py simulate_vendor
       <vendor> --book-direct …` calls it on a running simulator.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = {
    "500", "503", "429", "timeout", "drop", "garbage", "empty", "huge", "wrong_types",
    "500_after", "timeout_after", "drop_after", "garbage_after", "500_echo", "302",
}  # fmt: skip
DIRECT_ACTIONS = ("book", "move", "cancel", "delete")
HUGE = {"items": ["x" * 1000] * 10_000}  # about 10 MB of JSON


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    match: dict[str, str]

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace")))

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclasses.dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class Simulator:
    vendor = ""
    # (method, path regex with named groups, name of the handler method)
    routes: list[tuple[str, str, str]] = []
    timeout_seconds = 12.0  # longer than any client read timeout
    # Where the "302" fault sends the client (a client must never follow it).
    redirect_to = "https://pms.example.net/moved"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.RLock()
        self.faults: collections.deque[tuple[str, str | None]] = collections.deque()
        self.latency_ms = 0
        self.requests: list[Request] = []
        self.reset()
        self._compiled = [(m, re.compile(f"^{p}$"), h) for m, p, h in self.routes]
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Every simulator sends headers and body without waiting ~40 ms for the
            # client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                simulator._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    # -- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (subclasses extend this with their own state)."""
        with self.lock:
            self.faults.clear()
            self.latency_ms = 0
            self.requests = []
            # [fault, path prefix, requests to that path still let through]: `inject_on`.
            self.later_faults: list[list[Any]] = []

    def state(self) -> dict[str, Any]:
        return {}

    def inject(self, *faults: str, path: str | None = None) -> None:
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")
            self.faults.append((fault, path))

    def inject_on(self, fault: str, *, path: str, nth: int) -> None:
        """Fault the `nth` request (from 1, counted from now) whose path starts with `path`,
        e.g. the second page of a list; `inject` faults the next one."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")
        if nth < 1:
            raise ValueError("nth counts from 1")
        with self.lock:
            self.later_faults.append([fault, path, nth - 1])

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Simulator:
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def serve_forever(self) -> None:
        self.server.serve_forever()

    # -- dispatch ---------------------------------------------------------------------------

    def _take_fault(self, path: str) -> str | None:
        """The next queued fault, else a later one now due (every request counts)."""
        queued = due = None
        with self.lock:
            for index, (fault, only) in enumerate(self.faults):
                if only is None or path.startswith(only):
                    del self.faults[index]
                    queued = fault
                    break
            for later in list(self.later_faults):
                if not path.startswith(later[1]):
                    continue
                if later[2] == 0:
                    self.later_faults.remove(later)
                    due = due or later[0]
                else:
                    later[2] -= 1
        return queued or due

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command,
            path=parts.path,
            query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
            match={},
        )
        if request.path.startswith("/__simulator/"):
            return self._write(handler, self._control(request))
        with self.lock:
            self.requests.append(request)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        fault = self._take_fault(request.path)
        if fault in ("500", "503", "429"):
            return self._write(handler, self.fault_reply(int(fault)))
        if fault == "timeout":
            time.sleep(self.timeout_seconds)
            return self._write(handler, Reply(504, {"message": "too late"}))
        if fault == "drop":
            return self._drop(handler)
        if fault == "302":
            return self._write(handler, Reply(302, None, {"Location": self.redirect_to}))
        if fault == "500_echo":
            return self._write(handler, self.echo_reply(request))
        if fault == "garbage":
            return self._write(handler, Reply(200, "<html>Bad gateway</html>"))
        if fault == "empty":
            return self._write(handler, Reply(200, None))
        if fault == "huge":
            return self._write(handler, Reply(200, HUGE))
        if fault == "wrong_types":
            return self._write(handler, Reply(201, {"data": [], "result": "x", "appt": 7}))
        reply = self.dispatch(request)
        if fault == "500_after":
            reply = self.fault_reply(500)
        elif fault == "timeout_after":
            time.sleep(self.timeout_seconds)
        elif fault == "drop_after":
            return self._drop(handler)
        elif fault == "garbage_after":
            reply = Reply(reply.status, "{not json")
        self._write(handler, reply)

    def dispatch(self, request: Request) -> Reply:
        for method, pattern, name in self._compiled:
            found = pattern.match(request.path)
            if found and method == request.method:
                request.match = found.groupdict()
                with self.lock:
                    return getattr(self, name)(request)
        return self.not_found(request)

    def not_found(self, request: Request) -> Reply:
        return Reply(404, {"message": f"No route for {request.method} {request.path}"})

    def direct(self, action: str, data: dict[str, Any]) -> Reply:
        """A change made directly in the PMS (see the module's docstring); each simulator
        applies it to its own records, the way its read endpoints then show it."""
        return Reply(404, {"message": f"{self.vendor} simulator: no direct changes"})

    def fault_reply(self, status: int) -> Reply:
        """The vendor's way of saying 500 / 503 / 429 (subclasses adapt the body)."""
        if status == 429:
            return Reply(429, {"message": "Rate limit exceeded"}, {"Retry-After": "1"})
        return Reply(status, {"message": "Internal error"})

    def echo_reply(self, request: Request) -> Reply:
        """A server error page that quotes the request (query string and body included)."""
        query = urllib.parse.urlencode(request.query)
        body = request.body.decode("utf-8", "replace")
        page = f"Internal Server Error while handling {request.method} {request.path}?{query}"
        return Reply(500, f"{page}\n{body}")

    def _control(self, request: Request) -> Reply:
        if request.path == "/__simulator/faults" and request.method == "POST":
            data = request.json or {}
            try:
                self.inject(*data.get("faults", []), path=data.get("path"))
            except ValueError as error:
                return Reply(400, {"message": str(error)})
            if "latency_ms" in data:
                self.latency_ms = int(data["latency_ms"])
            return Reply(200, {"queued": [f for f, _ in self.faults]})
        if request.path == "/__simulator/reset" and request.method == "POST":
            self.reset()
            return Reply(200, {"reset": True})
        if request.path == "/__simulator/direct" and request.method == "POST":
            data = request.json
            if not isinstance(data, dict) or data.get("action") not in DIRECT_ACTIONS:
                return Reply(
                    400, {"message": f"Send a JSON object with an action: {DIRECT_ACTIONS}"}
                )
            with self.lock:
                return self.direct(data["action"], data)
        if request.path == "/__simulator/state":
            with self.lock:
                return Reply(200, self.state())
        return Reply(404, {"message": "unknown control endpoint"})

    def _write(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            payload, kind = reply.body, "application/octet-stream"
        elif isinstance(reply.body, str):
            payload, kind = reply.body.encode(), "text/plain; charset=utf-8"
        elif reply.body is None:
            payload, kind = b"", "application/json"
        else:
            payload, kind = json.dumps(reply.body).encode(), "application/json"
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _drop(self, handler: BaseHTTPRequestHandler) -> None:
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        handler.close_connection = True
