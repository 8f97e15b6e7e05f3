"""Keeping within a PMS's documented rate limits, counted in the shared cache
(vendors/pacing.py)."""

import threading
import time

import pytest

from vendors import pacing
from vendors.adapters.nexhealth import RATE_LIMITS

SPAN_LIMIT = pacing.Limit("list", 5, 0.5, paths="appointments", methods=("GET",))


def sent_like_an_adapter(limit: pacing.Limit, scope: str, until: float, sent: list) -> None:
    """Calls as vendors.base paces them: each waits as long as `wait` says, then goes."""
    while time.monotonic() < until:
        if delay := pacing.wait(scope, (limit,), "GET", "appointments"):
            time.sleep(delay)
            continue
        sent.append(time.monotonic())


def most_in_any_span(sent: list[float], seconds: float) -> int:
    return max(sum(1 for t in sent if start <= t < start + seconds) for start in sent)


@pytest.mark.parametrize(("calls", "seconds"), [(2, 1.0), (3, 0.5), (10, 1.0), (1000, 60.0),
                                                (2000, 60.0), (7, 2.0)])  # fmt: skip
def test_no_span_of_the_documented_length_meets_more_windows_than_it_allows(calls, seconds):
    limit = pacing.Limit("x", calls, seconds)

    # Any span of `seconds` meets at most `windows + 1` windows of `window_seconds`.
    assert limit.window_seconds * limit.windows == pytest.approx(seconds)
    assert limit.per_window >= 1
    assert limit.per_window * (limit.windows + 1) <= calls


def test_a_limit_below_two_calls_is_refused():
    with pytest.raises(ValueError, match="at least 2 calls"):
        pacing.Limit("x", 1, 1.0)


def test_threads_hammering_one_scope_keep_to_the_limit_and_still_use_it():
    sent: list[float] = []
    until = time.monotonic() + 1.6
    threads = [
        threading.Thread(target=sent_like_an_adapter, args=(SPAN_LIMIT, "scope", until, sent))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most_in_any_span(sent, SPAN_LIMIT.seconds) <= SPAN_LIMIT.calls
    # One call a window (4 windows a span): about 12 in 1.6 s, never starved.
    assert len(sent) >= 9


def test_calls_over_the_window_s_share_wait_for_the_next_window(shared_cache):
    first = pacing.wait("scope", (SPAN_LIMIT,), "GET", "appointments")
    second = pacing.wait("scope", (SPAN_LIMIT,), "GET", "appointments")

    assert first == 0.0
    # In the same window (unless the first call ended one): wait for the next, no longer.
    assert 0.0 <= second <= SPAN_LIMIT.window_seconds


def test_each_scope_and_each_limit_has_its_own_allowance():
    assert pacing.wait("one", (SPAN_LIMIT,), "GET", "appointments") == 0.0
    assert pacing.wait("two", (SPAN_LIMIT,), "GET", "appointments") == 0.0
    other = pacing.Limit("other", 5, 0.5, paths="appointments")
    assert pacing.wait("one", (other,), "GET", "appointments") == 0.0


def test_a_call_told_to_wait_takes_no_allowance_of_the_limits_it_passed(shared_cache):
    # One call an hour on the list; 9 a minute on every appointments path.
    tight = pacing.Limit("tight", 2, 7200.0, paths="appointments", methods=("GET",))
    loose = pacing.Limit("loose", 100, 600.0, paths="appointments(/.*)?")
    limits = (tight, loose)
    left = loose.window_seconds - time.time() % loose.window_seconds
    if left < 1.0:
        time.sleep(left + 0.01)

    assert pacing.wait("scope", limits, "GET", "appointments") == 0.0
    for _ in range(4):  # held back by the tight limit
        assert pacing.wait("scope", limits, "GET", "appointments") > 0.0
    sent = [pacing.wait("scope", limits, "POST", "appointments") for _ in range(loose.per_window)]

    assert sent[:-1] == [0.0] * (loose.per_window - 1)  # the loose limit lost nothing
    assert sent[-1] > 0.0  # its 9 calls: the first GET and 8 POSTs


def test_calls_a_limit_does_not_cover_are_not_counted():
    for _ in range(5):
        assert pacing.wait("scope", (SPAN_LIMIT,), "POST", "appointments") == 0.0
        assert pacing.wait("scope", (SPAN_LIMIT,), "GET", "appointments/12") == 0.0


def test_a_cache_that_cannot_be_reached_paces_nothing(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }

    waits = [pacing.wait("scope", (SPAN_LIMIT,), "GET", "appointments") for _ in range(3)]

    assert waits == [0.0, 0.0, 0.0]
    assert "not paced" in caplog.text


@pytest.mark.parametrize(
    ("method", "path", "limits"),
    [
        ("GET", "appointments", {"appointment-list", "appointments"}),
        ("POST", "appointments", {"appointments"}),
        ("GET", "appointments/1234", {"appointments"}),
        ("PATCH", "appointments/1234", {"appointments"}),
        ("GET", "available_slots", {"slots", "others"}),
        ("GET", "patients", {"patients"}),
        ("POST", "patients", {"patients"}),
        ("GET", "appointment_types", {"others"}),
        ("GET", "providers", {"others"}),
        ("POST", "authenticates", {"others"}),
    ],
)
def test_nexhealths_documented_limits_cover_each_endpoint(method, path, limits):
    assert {limit.name for limit in RATE_LIMITS if limit.covers(method, path)} == limits
