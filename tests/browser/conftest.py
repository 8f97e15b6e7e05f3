"""Real Chromium (Debian's package, never a downloaded one) against a live server, the PMS
simulators and a delivery worker. Screenshots of each final state go to test-artifacts/."""

import os
import pathlib
import shutil
import threading
import time

import pytest
from django.db import close_old_connections, connection

from tests.factories import ClinicMembershipFactory, UserFactory
from tests.vendors.allow import world_at_dentalink
from vendors import delivery

# Playwright's sync API keeps an event loop in this thread; the ORM calls of the tests
# themselves are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-desk-password"


@pytest.fixture(scope="session")
def chromium():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium package (apt-get install chromium).")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=executable,
        args=[
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ],
    )
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def dentalink(world, monkeypatch, settings):
    """The world's clinic books into a Dentalink simulator; its records are mapped."""
    with world_at_dentalink(
        world, monkeypatch, settings, variable="PMS_BROWSER_DENTALINK_TOKEN", read_timeout=1
    ) as simulator:
        yield simulator


@pytest.fixture
def worker(transactional_db):
    """A delivery worker: the sweeper's loop, in a thread with its own connection."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            close_old_connections()
            delivery.deliver_due()
            time.sleep(0.2)
        connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


@pytest.fixture
def signed_in(page, live_server, world):
    user = UserFactory(username="desk")
    user.set_password(PASSWORD)
    user.save()
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("desk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/desk/**")
    return page
