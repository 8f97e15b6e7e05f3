"""Gunicorn's settings for the web process (`gunicorn scheduling.wsgi` reads this file from the
working directory; Procfile.prod runs it). Everything that differs between machines comes from
the environment; README "Running in production" lists the variables."""

import os
import sys
from typing import Any

_environ = os.environ


def _number(name: str, default: int) -> int:
    value = _environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "scheduling.wsgi:application"
bind = [_environ.get("GUNICORN_BIND") or f"0.0.0.0:{_number('PORT', 8000)}"]

# Threads share a worker's memory and its database connections (one per thread, kept for
# CONN_MAX_AGE), and take turns on Python's interpreter lock: more workers, not more
# threads, use more cores (make loadtest on 2 cores: 235 searches/s with 1 thread per
# worker, 220 with 2, 199 with 4). The second thread keeps a worker answering while the
# other waits, e.g. on a PMS's pre-flight check (3 s at most). workers × threads × machines
# must stay below PostgreSQL's max_connections, with room for the workers and sweepers.
worker_class = "gthread"
workers = _number("GUNICORN_WORKERS", _number("WEB_CONCURRENCY", 2))
threads = _number("GUNICORN_THREADS", 2)

# How long a thread runs before one waiting for the interpreter lock may take it. Python's
# 5 ms default made every request wait that long after each of its database answers, while
# another thread ran: with 4 threads, one-day searches alone went from 204/s to 359/s at
# 0.5 ms on 2 cores (make loadtest's stack, searches only).
switch_interval_ms = float(_environ.get("GUNICORN_SWITCH_INTERVAL_MS") or 0.5)


def post_worker_init(worker: object) -> None:
    sys.setswitchinterval(switch_interval_ms / 1000)


# Each worker listens on a socket of its own, and the kernel spreads new connections over them.
reuse_port = True
# Clients keep their connections alive, so a connection stays with the worker that accepted
# it: when a worker is replaced, its clients all reconnect to the others, and stay there. As
# nginx does (keepalive_requests), a connection is closed after this many requests; its
# client's next one lands on any worker. The load test had all 30 clients on one of its two
# workers: one core busy, the other idle.
keepalive_requests = _number("GUNICORN_KEEPALIVE_REQUESTS", 100)


def pre_request(worker: object, request: Any) -> None:
    if request.req_number >= keepalive_requests:
        request.must_close = True  # answered with "Connection: close"


# A request that takes longer than this is a bug or a stuck database: its worker is
# restarted. A pre-flight check waits 3 seconds at most (vendors/preflight.py).
timeout = _number("GUNICORN_TIMEOUT", 30)
# On a deploy or a restart, requests in progress get this long to finish.
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the idle timeout of the load balancer in front, or it meets closed connections.
keepalive = _number("GUNICORN_KEEPALIVE", 75)
# Workers are replaced now and then, one at a time, so a slow leak never grows. Each start
# costs a second or two of CPU: at 2000 requests a worker under load restarted every 15 s.
max_requests = _number("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = max_requests // 10
# The heartbeat file of each worker in memory: a slow disk never makes a healthy worker look
# dead.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# The access log: the path without its query string (a GET search would put a patient's name
# there), the status, size, duration and the request ID the app echoed (scheduling
# .observability), so a line leads to the request's own log lines.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = _environ.get("LOG_LEVEL", "info").lower()

if _environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # The same JSON lines as the app's own logs (settings.LOGGING).
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "scheduling.observability.JsonFormatter"}},
        "handlers": {
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": loglevel.upper(), "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["error"],
                "propagate": False,
            },
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
