"""A small JSON-over-HTTP server with in-memory state and fault knobs.

A vendor simulator subclasses `Simulator`, lists its `routes` and answers with the vendor's
documented shapes. Faults are queued per path and consumed one request at a time; the
`*_after` faults act first (store the booking) and then fail the answer, which is how a
client ends up not knowing whether its request was acted on. `500_echo` answers a plain-text
error page that quotes the request it got, as some servers' error pages do. `302` redirects
to `redirect_to`.

Random faults (a load test's): with `rates`, every vendor request that no queued or planned
fault takes draws once from `random.Random(seed)` and gets at most one fault, e.g. 10% "500"
and 5% "timeout_after" (`chaos()`). A "timeout" or "timeout_after" fault holds its answer
`timeout_seconds`; that setting outlives `reset()`, as a test's own
`simulator.timeout_seconds = 1.0` does.

Control endpoints (also used by the browser tests and `make loadtest`):
  POST /__simulator/faults  {"faults": ["500", "timeout_after", ...], "path": "/citas",
                             "latency_ms": 0, "rates": {"500": 0.1, "timeout_after": 0.05},
                             "seed": 7, "timeout_seconds": 4}
       Every key is optional; `path` narrows the queued `faults` only; `rates` replace the
       earlier ones ({} stops them) and `seed` goes with them. A refusal (400, saying what is
       wrong) changes nothing.
  POST /__simulator/reset   forgets records, queued faults, rates, latency and counts
  GET  /__simulator/state   the vendor's own records
  GET  /__simulator/stats   {"requests": 412, "faults": {"500": 40, "timeout_after": 19}}: the
                            vendor requests since the last reset and the faults injected into
                            them here (queued, planned or drawn), by kind
  GET  /__simulator/duplicates  {"appointments": 30, "duplicates": 0}: the live appointments
                            held (not cancelled or deleted; blocks are not appointments) and
                            how many repeat another's practitioner and start (two at one start
                            are 1 duplicate, three are 2); see `live_appointment_keys`
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
import math
import random
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


class _Server(ThreadingHTTPServer):
    # Many delivery threads call one simulator at once: socketserver's backlog of 5 pending
    # connections is too short for them.
    request_queue_size = 128
    daemon_threads = True


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

        self.server = _Server((host, port), Handler)
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
            self.rates: list[tuple[str, float]] = []  # `chaos`
            self.draws = random.Random()
            self.injected: collections.Counter[str] = collections.Counter()

    def state(self) -> dict[str, Any]:
        return {}

    def inject(self, *faults: str, path: str | None = None) -> None:
        for fault in faults:
            _check_fault(fault)
            self.faults.append((fault, path))

    def inject_on(self, fault: str, *, path: str, nth: int) -> None:
        """Fault the `nth` request (from 1, counted from now) whose path starts with `path`,
        e.g. the second page of a list; `inject` faults the next one."""
        _check_fault(fault)
        if nth < 1:
            raise ValueError("nth counts from 1")
        with self.lock:
            self.later_faults.append([fault, path, nth - 1])

    def chaos(self, rates: dict[str, float], *, seed: int | None = None) -> None:
        """From now on, give each vendor request that no queued or planned fault takes the
        fault `f` with probability `rates[f]` (at most one), drawn from `random.Random(seed)`;
        `{}` stops it. Rates are from 0 to 1 and add up to 1 at most."""
        checked = _checked_rates(rates)
        with self.lock:
            self.rates = checked
            self.draws = random.Random(seed)

    def stats(self) -> dict[str, Any]:
        """The vendor requests since the last reset and the faults injected into them."""
        with self.lock:
            return {"requests": len(self.requests), "faults": dict(sorted(self.injected.items()))}

    def live_appointment_keys(self) -> list[tuple[str, str]]:
        """(practitioner's vendor ID, start) of every live appointment held: neither
        cancelled nor deleted, and not a block. Each simulator reads its own records; a start
        is ISO text or the vendor's own, written alike for the same moment."""
        raise NotImplementedError(f"the {self.vendor} simulator does not count appointments")

    def duplicates(self) -> dict[str, int]:
        """Live appointments held, and how many repeat another's practitioner and start."""
        with self.lock:
            keys = self.live_appointment_keys()
        return {"appointments": len(keys), "duplicates": len(keys) - len(set(keys))}

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
        """The next queued fault, else a later one now due (every request counts), else one
        drawn from the rates; counted by kind."""
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
            fault = queued or due or self._draw()
            if fault:
                self.injected[fault] += 1
        return fault

    def _draw(self) -> str | None:
        """One draw from the rates (the caller holds the lock): a fault or None."""
        if not self.rates:
            return None
        draw = self.draws.random()
        for fault, rate in self.rates:
            if draw < rate:
                return fault
            draw -= rate
        return None

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
            try:
                settings = _fault_settings(request.json or {})
            except ValueError as error:
                return Reply(400, {"message": str(error)})
            return Reply(200, self._set_faults(settings))
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
        if request.path == "/__simulator/stats" and request.method == "GET":
            return Reply(200, self.stats())
        if request.path == "/__simulator/duplicates" and request.method == "GET":
            try:
                return Reply(200, self.duplicates())
            except NotImplementedError as error:
                return Reply(501, {"message": str(error)})
        return Reply(404, {"message": "unknown control endpoint"})

    def _set_faults(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply what `_fault_settings` checked; the simulator's fault settings now."""
        self.inject(*settings["faults"], path=settings["path"])
        if "rates" in settings:
            self.chaos(settings["rates"], seed=settings["seed"])
        with self.lock:
            self.latency_ms = settings.get("latency_ms", self.latency_ms)
            if "timeout_seconds" in settings:
                self.timeout_seconds = settings["timeout_seconds"]
            return {
                "queued": [fault for fault, _ in self.faults],
                "rates": dict(self.rates),
                "latency_ms": self.latency_ms,
                "timeout_seconds": self.timeout_seconds,
            }

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


def _fault_settings(data: Any) -> dict[str, Any]:
    """The body of POST /__simulator/faults, checked whole before any of it applies."""
    if not isinstance(data, dict):
        raise ValueError("Send a JSON object (see vendors/simulators/base.py)")
    faults = data.get("faults") or []
    if not isinstance(faults, list):
        raise ValueError('faults must be a list, e.g. ["500", "timeout_after"]')
    for fault in faults:
        _check_fault(fault)
    settings: dict[str, Any] = {"faults": faults, "path": data.get("path")}
    if "latency_ms" in data:
        latency = data["latency_ms"]
        if not _is_number(latency) or latency < 0:
            raise ValueError("latency_ms must be a number of milliseconds, 0 or more")
        settings["latency_ms"] = int(latency)
    if "timeout_seconds" in data:
        seconds = data["timeout_seconds"]
        if not _is_number(seconds) or seconds <= 0:
            raise ValueError("timeout_seconds must be a number of seconds above 0")
        settings["timeout_seconds"] = float(seconds)
    if "seed" in data and "rates" not in data:
        raise ValueError("seed goes with rates: send both")
    if "rates" in data:
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be a whole number")
        _checked_rates(data["rates"])
        settings |= {"rates": data["rates"], "seed": seed}
    return settings


def _checked_rates(rates: Any) -> list[tuple[str, float]]:
    """`rates` as (fault, rate) pairs in a fixed order, so that a seed draws the same faults
    whatever order the rates came in."""
    if not isinstance(rates, dict):
        raise ValueError('rates must be an object of fault: rate, e.g. {"500": 0.1}')
    for fault, rate in rates.items():
        _check_fault(fault)
        if not _is_number(rate) or not 0 <= rate <= 1:
            raise ValueError(f"the rate of {fault!r} must be a number from 0 to 1")
    total = math.fsum(rates.values())  # exact: 0.1 + 0.2 + 0.7 is 1, not a little more
    if total > 1:
        raise ValueError(f"the rates add up to {total:g}; they must add up to 1 at most")
    return sorted((fault, float(rate)) for fault, rate in rates.items())


def _check_fault(fault: Any) -> None:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")


def _is_number(value: Any) -> bool:
    """A finite JSON number (true and false are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
