"""A short smoke run of the production stack (`manage.py loadtest`, which `make loadtest`
runs for a minute on PostgreSQL): gunicorn, two delivery workers, the sweeper and the five
simulators on a fresh SQLite file, a few clients for a few seconds, a worker killed halfway,
and every must-be-zero figure zero."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from scheduling.load.stack import SIMULATOR_PORTS, port_answers
from tests.scheduling.test_deploy import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.dbless]


def manage(*arguments: str, environment: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_production_stack_serves_books_and_settles_everything(tmp_path):
    taken = [port for port in SIMULATOR_PORTS.values() if port_answers(port)]
    if taken:
        pytest.skip(f"the simulators' ports {taken} are taken (is `make run` running?)")
    hosts = ",".join(f"127.0.0.1:{port}" for port in SIMULATOR_PORTS.values())
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'stack.sqlite3'}",
        "CACHE_URL": "dbcache://django_cache",
        "LOG_LEVEL": "WARNING",
        "VENDOR_ALLOWED_HOSTS": hosts,
        "PMS_DEMO_DENTALINK_TOKEN": "dentalink-simulator-token",
        "PMS_DEMO_TREATSVET_API_KEY": "vk_c2ltdWxhdG9yLWtleQ",
        "PMS_DEMO_NEXHEALTH_KEY": "sim-nexhealth-api-key",
    }
    manage("migrate", "--no-input", "-v0", environment=environment, timeout=300)
    manage("seed_demo", environment=environment, timeout=300)

    # The drain waits for the slowest path to settle: an attempt cut short by the killed worker
    # is taken back when its lease runs out (DELIVERY_LEASE_SECONDS, 60), and if the resend is
    # NexHealth's "accepted", its PMS is asked again a minute later (POLL_EVERY). With 120 s
    # one such delivery was still accepted at the end. It stops as soon as all are settled.
    output = manage(
        "loadtest", "--clients", "4", "--seconds", "6", "--drain-seconds", "240",
        "--port", str(free_port()), "--logs", str(tmp_path / "logs"),
        environment=environment, timeout=600,
    )  # fmt: skip

    figures = dict(re.findall(r"^LOAD (\w+)=(.*)$", output, flags=re.MULTILINE))
    assert int(figures["availability_answers_200"]) > 0
    assert int(figures["appointments_created"]) > 0
    assert figures["worker_killed_pid"].isdigit()
    assert float(figures["reference_work_ms_after"]) > 0
    for name in ("double_bookings", "unsettled_deliveries", "vendor_duplicates", "server_errors"):
        assert figures[name] == "0", (name, output)
