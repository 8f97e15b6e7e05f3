"""The load: simulated receptionists and apps on the REST API, each on its own kept-alive
connection. Each searches a day's free slots and books one of them now and then; a share of
them aim at the same few practitioners and days, so bookings collide on the same slots."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import json
import random
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable

from scheduling.load.http import Connection
from scheduling.load.world import Search, World

SEARCH = "availability"
BOOK = "book"
# Of every search that finds slots, the share followed by a booking of one of them (about
# one booking in twelve requests: most searches of a 60-day range find a full or closed day).
BOOK_SHARE = 0.25
# The share of clients' turns spent on the hot practitioners and days (collisions).
HOT_SHARE = 0.2
HOT_SEARCHES = 3
HOT_DAYS = 2


@dataclasses.dataclass
class Tally:
    latencies: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(list)
    )
    # (endpoint, kind) → count; kinds: the status code, or timeout / connection.
    answers: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    created: int = 0
    started: float = 0.0
    ended: float = 0.0

    def note(self, endpoint: str, kind: str, seconds: float) -> None:
        self.latencies[endpoint].append(seconds)
        self.answers[(endpoint, kind)] += 1


class Client:
    def __init__(
        self, index: int, token: str, world: World, port: int, tally: Tally, book_share: float
    ) -> None:
        self.rng = random.Random(index)
        self.book_share = book_share
        self.world = world
        self.tally = tally
        self.connection = Connection("127.0.0.1", port)
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    async def run(self, until: float) -> None:
        try:
            while time.monotonic() < until:
                await self.turn()
        finally:
            await self.connection.close()

    async def turn(self) -> None:
        hot = self.rng.random() < HOT_SHARE
        searches = self.world.searches[:HOT_SEARCHES] if hot else self.world.searches
        search = self.rng.choice(searches)
        offset = self.rng.randrange(HOT_DAYS if hot else self.world.days)
        day = self.world.first_day + datetime.timedelta(days=offset)
        found = await self.search(search, day)
        if found and self.rng.random() < self.book_share:
            slots = json.loads(found)  # read only when booking: most searches are not
            # Hot turns take the earliest free slot, as most people would: they collide.
            await self.book(search, slots[0] if hot else self.rng.choice(slots))

    async def call(self, endpoint: str, method: str, path: str, body: dict | None = None):
        headers = dict(self.headers)
        if body is not None:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        began = time.perf_counter()
        try:
            answer = await self.connection.request(method, path, headers=headers, body=body)
        except TimeoutError:
            self.tally.note(endpoint, "timeout", time.perf_counter() - began)
            return None
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            self.tally.note(endpoint, "connection", time.perf_counter() - began)
            return None
        self.tally.note(endpoint, str(answer.status), time.perf_counter() - began)
        if answer.status == 429:
            await asyncio.sleep(float(answer.headers.get("retry-after") or 1))
        return answer

    async def search(self, search: Search, day: datetime.date) -> bytes:
        """The free slots found, as the JSON list the API answered; empty when none."""
        query = urllib.parse.urlencode({
            "location": search.location, "practitioner": search.practitioner,
            "appointment_type": search.appointment_type,
            "date_from": day.isoformat(), "date_to": day.isoformat(),
        })  # fmt: skip
        answer = await self.call(SEARCH, "GET", f"/api/v1/availability/?{query}")
        if answer is None or answer.status != 200 or answer.body.strip() == b"[]":
            return b""
        return answer.body

    async def book(self, search: Search, slot: dict) -> None:
        body = {
            "location": search.location,
            "practitioner": search.practitioner,
            "appointment_type": search.appointment_type,
            "patient": self.rng.choice(search.patients),
            "start": slot["start"],
        }
        if len(slot["modalities"]) > 1:
            body["modality"] = self.rng.choice(slot["modalities"])
        answer = await self.call(BOOK, "POST", "/api/v1/appointments/", body)
        if answer is not None and answer.status == 201:
            self.tally.created += 1


async def drive(
    world: World,
    *,
    port: int,
    seconds: float,
    halfway: Callable[[], Awaitable[None]] | None = None,
    book_share: float = BOOK_SHARE,
) -> Tally:
    """Every client for `seconds`; `halfway` runs once, in the middle, without pausing them."""
    tally = Tally(started=time.monotonic())
    until = tally.started + seconds
    clients = [
        Client(index, token, world, port, tally, book_share)
        for index, token in enumerate(world.tokens)
    ]
    tasks = [asyncio.create_task(client.run(until)) for client in clients]
    if halfway is not None:
        await asyncio.sleep(seconds / 2)
        await halfway()
    await asyncio.gather(*tasks)
    tally.ended = time.monotonic()
    return tally
