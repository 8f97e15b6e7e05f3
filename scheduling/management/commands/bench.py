"""`make bench`: a large clinic plus 50 small ones, then timings of the hot paths.

Prints one line per figure:
BENCH <name> backend=<sqlite|postgresql> runs=<n> p50_ms=<x> p95_ms=<y> queries=<q>

and on PostgreSQL one line per read of each figure, with the time the server takes
to run its prepared statement under a generic plan (the one PostgreSQL may keep for a
statement run again and again) and under a plan made for its values, and the tables a
generic plan reads whole:
BENCH plan <name>.<n> generic_ms=<x> custom_ms=<y> read_whole=<tables> sql=<its start>
"""

import datetime
import itertools
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, reset_queries, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling import availability, booking
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Clinic,
    IdentityDocument,
    Location,
    Patient,
    Practitioner,
    Room,
    Specialty,
    WorkingHours,
)
from scheduling.national_ids import format_rut
from scheduling.patient_search import fold
from vendors import calendar, importing
from vendors.models import ExternalId, PmsBusy, VendorConnection
from vendors.simulators.dentalink import TOKEN, DentalinkSimulator
from vendors.simulators.nexhealth import API_KEY as NEXHEALTH_KEY
from vendors.simulators.nexhealth import SUBDOMAIN as NEXHEALTH_SUBDOMAIN
from vendors.simulators.nexhealth import NexHealthSimulator

LARGE = "bench-large"
ZONE = "America/Santiago"
PRACTITIONERS, ROOMS, PATIENTS = 50, 20, 5000
# The large clinic's whole register: the first PATIENTS have the appointments.
REGISTERED = 100_000
PAST, FUTURE = 200_000, 5_000
CALENDAR_DAY_APPOINTMENTS = 150
PMS_BUSY = 2_000
PULLED = 500
SMALL_CLINICS = 50
DAY_START, DAY_SLOTS, SLOT = datetime.time(8), 20, datetime.timedelta(minutes=30)
WEEKDAYS = range(5)


class Command(BaseCommand):
    help = "Seed a large clinic (once) and print BENCH lines for the booking hot paths."
    # The bench clinic's PMS connection points at a dead local address on purpose (nothing is
    # delivered while measuring), which the vendor-connection checks rightly refuse.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--runs", type=int, default=50)

    def handle(self, *args: Any, runs: int, **options: Any) -> None:
        started = time.perf_counter()
        if not Clinic.objects.filter(slug=LARGE).exists():
            build_large_clinic()
            build_small_clinics()
            # Planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would keep;
            # and PostgreSQL's visibility map, without which an index-only scan (the patient
            # search's) reads every row anyway.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        self.stderr.write(
            f"data ready in {time.perf_counter() - started:.1f}s: "
            f"{Appointment.objects.count()} appointments, {Clinic.objects.count()} clinics"
        )
        lines = [*measure(runs), *measure_pages(runs), *measure_api(runs), *measure_plans(),
                 *measure_task_claims(runs), measure_pull(), measure_import()]  # fmt: skip
        for line in lines:
            self.stdout.write(line)


def _working_days(first: datetime.date, step: int, count: int) -> list[datetime.date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() in WEEKDAYS:
            days.append(day)
        day += datetime.timedelta(days=step)
    return days


def _start(location: Location, day: datetime.date, slot: int) -> datetime.datetime:
    local = datetime.datetime.combine(day, DAY_START, tzinfo=location.zone)
    return (local + slot * SLOT).astimezone(datetime.UTC)


@transaction.atomic
def build_large_clinic() -> None:
    clinic = Clinic.objects.create(name="Bench large clinic", slug=LARGE, kind="dental")
    location = Location.objects.create(clinic=clinic, name="Centro", time_zone=ZONE)
    specialties = [Specialty.objects.create(clinic=clinic, name=f"Specialty {n}") for n in range(5)]
    practitioners = Practitioner.objects.bulk_create(
        Practitioner(clinic=clinic, given_name=f"Practitioner{n}", family_name=f"Bench{n}")
        for n in range(PRACTITIONERS)
    )
    for index, practitioner in enumerate(practitioners):
        practitioner.specialties.add(specialties[index % len(specialties)])
        practitioner.locations.add(location)
    WorkingHours.objects.bulk_create(
        WorkingHours(
            practitioner=practitioner,
            location=location,
            weekday=weekday,
            start_time=DAY_START,
            end_time=datetime.time(18),
            slot_interval_minutes=15,
        )
        for practitioner in practitioners
        for weekday in WEEKDAYS
    )
    rooms = Room.objects.bulk_create(
        Room(location=location, name=f"Chair {n:02d}") for n in range(ROOMS)
    )
    people = _people(clinic)
    patients = Patient.objects.bulk_create(itertools.islice(people, PATIENTS))
    while batch := list(itertools.islice(people, 5000)):
        Patient.objects.bulk_create(batch)
    appointment_type = AppointmentType.objects.create(
        clinic=clinic, name="Check-up", default_duration_minutes=30
    )
    # A PMS that never answers: bookings must not wait for it (delivery is in the background).
    VendorConnection.objects.create(
        clinic=clinic, vendor="dentalink", base_url="http://127.0.0.1:9/api/v1",
        secrets={"api_token": "PMS_BENCH_DENTALINK_TOKEN"},
    )  # fmt: skip
    today = timezone.localdate()

    # The past: every chair busy all day, rotating through practitioners and patients.
    past_days = _working_days(today - datetime.timedelta(days=1), -1, PAST // (ROOMS * DAY_SLOTS))
    past_days.reverse()  # oldest first, as a clinic's history grows
    counter = itertools.count()

    def past() -> Any:
        for day in past_days:
            for slot in range(DAY_SLOTS):
                start = _start(location, day, slot)
                for room_index, room in enumerate(rooms):
                    n = next(counter)
                    yield _appointment(
                        clinic, location, practitioners[(slot + room_index * 2) % PRACTITIONERS],
                        room, patients[n % PATIENTS], appointment_type, start,
                        AppointmentStatus.COMPLETED,
                    )  # fmt: skip

    _bulk(past())

    # The future: 5,000 appointments spread over 90 days, leaving most of the agenda free.
    rng = random.Random(7)
    future_days = _working_days(today + datetime.timedelta(days=1), 1, 64)
    taken: set[tuple[str, int, datetime.date, int]] = set()
    future: list[Appointment] = []

    def confirmed(who: int, chair: int, patient: int, day: datetime.date, slot: int) -> Appointment:
        return _appointment(
            clinic,
            location,
            practitioners[who],
            rooms[chair],
            patients[patient],
            appointment_type,
            _start(location, day, slot),
            AppointmentStatus.CONFIRMED,
        )

    # The day the calendar figure is measured on: 150 appointments over the 20 chairs.
    busy_day = future_days[0]
    for n in range(CALENDAR_DAY_APPOINTMENTS):
        slot, chair = n // ROOMS, n % ROOMS
        who, patient = (slot + chair * 2) % PRACTITIONERS, n
        taken.update([("p", who, busy_day, slot), ("r", chair, busy_day, slot),
                      ("a", patient, busy_day, slot)])  # fmt: skip
        future.append(confirmed(who, chair, patient, busy_day, slot))
    while len(future) < FUTURE:
        day, slot = rng.choice(future_days), rng.randrange(DAY_SLOTS)
        who, chair, patient = (rng.randrange(PRACTITIONERS), rng.randrange(ROOMS),
                               rng.randrange(PATIENTS))  # fmt: skip
        keys = [("p", who, day, slot), ("r", chair, day, slot), ("a", patient, day, slot)]
        if any(key in taken for key in keys):
            continue
        taken.update(keys)
        future.append(confirmed(who, chair, patient, day, slot))
    _bulk(future)

    # Time held in the PMS itself (DESIGN §8): 2,000 busy spans over the next 14 days, across
    # the practitioners and chairs, which every slot search subtracts.
    connection_row = VendorConnection.objects.get(clinic=clinic)
    seen = timezone.now()
    PmsBusy.objects.bulk_create(
        PmsBusy(
            connection=connection_row,
            practitioner=practitioners[n % PRACTITIONERS],
            room=rooms[n % ROOMS] if n % 2 else None,
            start=_start(location, day, slot) + datetime.timedelta(minutes=15),
            end=_start(location, day, slot) + datetime.timedelta(minutes=45),
            external_id=f"pms-{n}",
            last_seen=seen,
        )
        for n, (day, slot) in enumerate(
            (day, slot)
            for day in _working_days(today + datetime.timedelta(days=1), 1, 10)
            for slot in range(DAY_SLOTS)
            for _ in range(PMS_BUSY // (10 * DAY_SLOTS))
        )
    )


# Names as a Chilean or French register has them: a few common ones, many rarer ones.
SPANISH_GIVEN = [
    "Martín", "Sofía", "Benjamín", "Isidora", "Vicente", "Florencia", "Tomás", "Agustina",
    "Joaquín", "Josefa", "Matías", "Emilia", "Cristóbal", "Catalina", "Sebastián", "Antonia",
    "Nicolás", "Fernanda", "Andrés", "Javiera", "José", "María José", "Juan Pablo", "Valentina",
    "Ignacio", "Constanza", "Felipe", "Camila", "Diego", "Francisca", "Raúl", "Verónica",
    "Héctor", "Mónica", "Germán", "Inés", "Ramón", "Ángela", "Óscar", "Begoña",
]  # fmt: skip
SPANISH_FAMILY = [
    "González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez",
    "Sepúlveda", "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya",
    "Flores", "Espinoza", "Valenzuela", "Castillo", "Tapia", "Reyes", "Gutiérrez", "Castro",
    "Pizarro", "Álvarez", "Vásquez", "Sánchez", "Fernández", "Ramírez", "Carrasco", "Gómez",
    "Cortés", "Herrera", "Núñez", "Jara", "Vergara", "Rivera", "Figueroa", "Riquelme",
    "García", "Miranda", "Bravo", "Vera", "Molina", "Vega", "Campos", "Sandoval", "Orellana",
    "Cárdenas", "Olivares", "Alarcón", "Gallardo", "Ortiz", "Garrido", "Salazar", "Guzmán",
    "Henríquez", "Saavedra", "Navarro", "Aguilera", "Parra", "Romero", "Aravena", "Vargas",
    "Vázquez", "Cáceres", "Yáñez", "Leiva", "Escobar", "Ruiz", "Valdés", "Vidal", "Salinas",
    "Zúñiga", "Peña", "Godoy", "Lagos", "Maldonado", "Bustos", "Medina", "Pino", "Palma",
    "Moreno", "Sanhueza", "Carvajal", "Navarrete", "Sáez", "Alvarado", "Donoso", "Poblete",
]  # fmt: skip
FRENCH_GIVEN = [
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Louis", "Hugo", "Arthur", "Jules", "Lucas",
    "Nathalie", "Isabelle", "Pierre", "Nicolas", "Julie", "Émilie", "Jean-Pierre", "Hélène",
    "François", "Cécile", "Jérôme", "Stéphane", "Anaïs", "Zoé", "Maëlle", "Noël",
]  # fmt: skip
FRENCH_FAMILY = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Müller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Gaillard", "Barbier", "Arnaud", "Brun",
    "Dumont", "Rolland", "Roche", "D'Almeida", "Le Goff", "Hébert", "Bérénger",
]  # fmt: skip


def _zipf(names: list[str]) -> list[float]:
    """Weights: the first names of the list are the common ones (González, the first, is
    about 3% of the family names drawn)."""
    return [1 / (rank + 20) for rank in range(len(names))]


def _people(clinic: Clinic) -> Any:
    """REGISTERED patients: four in five Chilean (two family names, a RUT, a +56 9 mobile),
    the others French (+33 6); every phone and RUT different."""
    rng = random.Random(13)
    spanish, french = _zipf(SPANISH_FAMILY), _zipf(FRENCH_FAMILY)
    for n in range(REGISTERED):
        born = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(30_000))
        local = (10_000_000 + n * 7_919) % 100_000_000  # distinct for every n
        if n % 5:
            family = rng.choices(SPANISH_FAMILY, spanish, k=2)
            body = 5_000_000 + n * 193
            yield Patient(
                clinic=clinic, given_name=rng.choice(SPANISH_GIVEN), family_name=" ".join(family),
                birth_date=born, phone=f"+56 9 {local // 10_000:04d} {local % 10_000:04d}",
                national_id_type=IdentityDocument.RUT, national_id=format_rut(body),
            )  # fmt: skip
        else:
            digits = f"{local:08d}"
            yield Patient(
                clinic=clinic, given_name=rng.choice(FRENCH_GIVEN), birth_date=born,
                family_name=rng.choices(FRENCH_FAMILY, french)[0],
                phone="+33 6 " + " ".join(digits[i : i + 2] for i in range(0, 8, 2)),
            )  # fmt: skip


def _appointment(clinic, location, practitioner, room, patient, kind, start, status) -> Appointment:
    return Appointment(
        clinic=clinic,
        location=location,
        practitioner=practitioner,
        room=room,
        patient=patient,
        appointment_type=kind,
        start=start,
        end=start + SLOT,
        busy_from=start,
        busy_until=start + SLOT,
        status=status,
    )


def _bulk(rows: Any, size: int = 5000) -> None:
    rows = iter(rows)
    while batch := list(itertools.islice(rows, size)):
        Appointment.objects.bulk_create(batch)


@transaction.atomic
def build_small_clinics() -> None:
    today = timezone.localdate()
    for n in range(SMALL_CLINICS):
        clinic = Clinic.objects.create(name=f"Bench small clinic {n}", slug=f"bench-small-{n}")
        location = Location.objects.create(clinic=clinic, name="Main", time_zone="Europe/Paris")
        kind = AppointmentType.objects.create(clinic=clinic, name="Visit")
        rooms = Room.objects.bulk_create(
            Room(location=location, name=f"Room {r}") for r in range(3)
        )
        patients = Patient.objects.bulk_create(
            Patient(clinic=clinic, given_name=f"P{p}", family_name=f"Small{n}") for p in range(20)
        )
        for p in range(3):
            practitioner = Practitioner.objects.create(
                clinic=clinic, given_name=f"Doc{p}", family_name=f"Small{n}"
            )
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    practitioner=practitioner,
                    location=location,
                    weekday=d,
                    start_time=DAY_START,
                    end_time=datetime.time(18),
                )
                for d in WEEKDAYS
            )
            _bulk(
                _appointment(
                    clinic,
                    location,
                    practitioner,
                    rooms[p],
                    patients[(p + d) % 20],
                    kind,
                    _start(location, day, d % DAY_SLOTS),
                    AppointmentStatus.CONFIRMED,
                )
                for d, day in enumerate(_working_days(today + datetime.timedelta(days=1), 1, 20))
            )


# The reads (SQL, parameters) of each figure's counted call, for measure_plans.
_READS: dict[str, list[tuple[str, list]]] = {}


def _time(name: str, runs: int, call: Callable[[int], object]) -> str:
    """`call(0)` warms up, `call(1)` is counted, `call(2)` to `call(runs)` are timed, as
    production runs them: without the debug query log, which writes each statement's SQL
    with its values (on PostgreSQL with server-side binding, composed in Python)."""
    call(0)
    # The debug query log keeps the last 9,000 queries: once full (seeding fills it), a
    # capture would count none. Requests reset it; calls of services must do it here.
    reset_queries()
    reads = _READS[name] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("SELECT") and params:
            reads.append((sql, list(params)))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(keep):
        call(1)
    queries = len(captured)
    durations = []
    with override_settings(DEBUG=False):
        for run in range(2, runs + 1):
            started = time.perf_counter()
            call(run)
            durations.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(durations)
    p95 = statistics.quantiles(durations, n=20, method="inclusive")[18]
    return (
        f"BENCH {name} backend={connection.vendor} runs={len(durations)} "
        f"p50_ms={p50:.2f} p95_ms={p95:.2f} queries={queries}"
    )


def _bookable(location, practitioners, demand, first: datetime.date, runs: int) -> list:
    """Free slots, picked so that no two runs want the same practitioner, room or time."""
    offered = availability.free_slots(
        location=location,
        practitioner_ids=[p.pk for p in practitioners],
        demand=demand,
        date_from=first,
        date_to=first + datetime.timedelta(days=10),
    )
    plan, used = [], set()
    for slot in offered:
        if slot.start.minute % 30 or ("p", slot.practitioner_id, slot.start) in used:
            continue
        room = next((r for r in slot.room_ids if ("r", r, slot.start) not in used), None)
        if room is not None:
            used |= {("p", slot.practitioner_id, slot.start), ("r", room, slot.start)}
            plan.append((slot, room))
        if len(plan) > runs:
            break
    return plan


def _large_clinic(username: str) -> tuple[Clinic, Location, list, AppointmentType, Any]:
    """The large clinic, its location, practitioners and type, and a member to sign in as."""
    from django.contrib.auth import get_user_model

    from scheduling.models import ClinicMembership

    clinic = Clinic.objects.get(slug=LARGE)
    location = Location.objects.get(clinic=clinic)
    practitioners = list(Practitioner.objects.filter(clinic=clinic).order_by("pk"))
    kind = AppointmentType.objects.get(clinic=clinic)
    user, _ = get_user_model().objects.get_or_create(username=username)
    ClinicMembership.objects.get_or_create(user=user, clinic=clinic)
    return clinic, location, practitioners, kind, user


def measure_pages(runs: int) -> list[str]:
    """The receptionist's pages, through Django's test client (no network, full stack)."""
    from django.test import Client

    clinic, location, practitioners, kind, user = _large_clinic("bench-desk")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    htmx = {"HTTP_HX_REQUEST": "true"}
    busy_day = _working_days(timezone.localdate() + datetime.timedelta(days=1), 1, 1)[0]
    patients = list(
        Patient.objects.filter(clinic=clinic)
        .exclude(appointments__start__gte=timezone.now())
        .order_by("-pk")[: runs + 1]
    )
    plan = _bookable(
        location,
        practitioners,
        availability.Demand.build(appointment_type=kind),
        busy_day + datetime.timedelta(days=40),
        runs,
    )
    searches = _searches(clinic, runs + 1)

    def page(
        url: str, data: dict, *, post: bool = False, **headers: str
    ) -> Callable[[int], object]:
        def call(run: int) -> object:
            values = {key: value(run) if callable(value) else value for key, value in data.items()}
            send = client.post if post else client.get
            response = send(url, values, **headers)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
            return response

        return call

    return [
        _time("ui_slot_grid", runs, page("/desk/slots/", {
            "location": location.pk, "appointment_type": kind.pk,
            "who": lambda run: f"p:{practitioners[run % PRACTITIONERS].pk}",
            "date": busy_day.isoformat()}, **htmx)),
        _time("ui_patient_search", runs, page("/desk/patients/search/", {
            "q": lambda run: searches[run % len(searches)]}, post=True, **htmx)),
        _time("ui_day_calendar", runs, page("/desk/day/", {
            "location": location.pk, "date": busy_day.isoformat()})),
        _time("ui_book_post", runs, page("/desk/", {
            "location": location.pk, "appointment_type": kind.pk, "modality": "in_person",
            "who": lambda run: f"p:{plan[run][0].practitioner_id}",
            "patient": lambda run: patients[run].pk,
            "start": lambda run: plan[run][0].start.isoformat(),
            "slot_practitioner": lambda run: plan[run][0].practitioner_id,
            "room": lambda run: plan[run][1]}, post=True, **htmx)),
    ]  # fmt: skip


def _searches(clinic: Clinic, count: int) -> list[str]:
    """What a receptionist types to find someone, taking turns: a family name's start without
    accents, a full name, the phone's last 8 digits, the RUT without dots or check digit
    (a French patient has none: their phone's digits)."""
    first = Patient.objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True)[0]
    step = REGISTERED // count
    chosen = Patient.objects.filter(
        clinic=clinic, pk__in=[first + n * step for n in range(count)]
    ).order_by("pk")
    searches = []
    for n, patient in enumerate(chosen):
        phone = "".join(filter(str.isdigit, patient.phone))[-8:]
        searches.append([
            fold(patient.family_name)[:5],
            f"{patient.given_name} {patient.family_name}",
            phone,
            patient.national_id.replace(".", "").split("-")[0] or phone,
        ][n % 4])  # fmt: skip
    return searches


def measure_api(runs: int) -> list[str]:
    """REST API v1 for mobile apps, with a real token, through Django's test client."""
    from django.test import Client

    from scheduling.api.authentication import issue_token

    clinic, location, practitioners, kind, user = _large_clinic("bench-mobile")
    _, key = issue_token(user=user)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")
    busy_day = _working_days(timezone.localdate() + datetime.timedelta(days=1), 1, 1)[0]
    patients = list(
        Patient.objects.filter(clinic=clinic)
        .exclude(appointments__start__gte=timezone.now())
        .order_by("pk")[runs + 2 : 2 * runs + 4]
    )
    plan = _bookable(
        location,
        practitioners,
        availability.Demand.build(appointment_type=kind),
        busy_day + datetime.timedelta(days=60),
        runs,
    )

    def call(method: str, url: str, data: Any = None) -> Callable[[int], object]:
        def run(n: int) -> object:
            payload = data(n) if callable(data) else data
            if method == "POST":
                response = client.post(url, payload, content_type="application/json")
            else:
                response = client.get(url(n) if callable(url) else url, payload)
            if response.status_code not in (200, 201):
                raise RuntimeError(
                    f"{url} answered {response.status_code}: {response.content[:200]}"
                )
            return response

        return run

    return [
        _time("api_availability_day", runs, call("GET", "/api/v1/availability/", lambda n: {
            "location": location.pk, "practitioner": practitioners[n % PRACTITIONERS].pk,
            "appointment_type": kind.pk, "date_from": busy_day.isoformat()})),
        _time("api_appointments_list", runs, call("GET", "/api/v1/appointments/", {
            "location": location.pk, "date_from": busy_day.isoformat(),
            "date_to": busy_day.isoformat()})),
        _time("api_book", runs, call("POST", "/api/v1/appointments/", lambda n: {
            "location": location.pk, "practitioner": plan[n][0].practitioner_id,
            "patient": patients[n].pk, "appointment_type": kind.pk,
            "start": plan[n][0].start.isoformat(), "room": plan[n][1]})),
    ]  # fmt: skip


def measure_task_claims(runs: int) -> list[str]:
    """A delivery worker's thread taking the next task off the database queue (one statement
    on PostgreSQL, vendors.task_claims; django-tasks-db's claim elsewhere), then polling the
    queue empty, as an idle worker does once per --interval."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    from vendors.management.commands.task_worker import Turns, _Worker

    queue = "bench"
    worker = _Worker(
        turns=Turns(1.0), queue_names=[queue], interval=1.0, batch=False,
        backend_name="default", startup_delay=False, max_tasks=None, worker_id="bench",
        excluded_queue_names=[],
    )  # fmt: skip
    DBTaskResult.objects.bulk_create(
        DBTaskResult(
            args_kwargs={"args": [run], "kwargs": {}},
            task_path="vendors.tasks.send_delivery",
            backend_name="default",
            queue_name=queue,
            run_after=get_date_max(),
        )
        for run in range(runs + 1)
    )

    def claim(run: int) -> object:
        claimed = worker._claim()[1]
        if claimed is None:
            raise RuntimeError("the queue ran out of tasks to claim")
        return claimed

    def poll(run: int) -> object:
        if worker._claim()[1] is not None:
            raise RuntimeError("an empty queue gave a task")
        return None

    try:
        return [_time("task_claim", runs, claim), _time("task_poll_empty", runs, poll)]
    finally:
        DBTaskResult.objects.filter(queue_name=queue).delete()


def measure_plans() -> list[str]:
    """PostgreSQL: each read of each figure (as its counted call sent it), prepared and run
    under a generic plan and under one made for its values (EXPLAIN ANALYZE EXECUTE), once
    the figures are timed. A read much slower generic, or reading a table whole, is one to
    look at: PostgreSQL keeps the generic plan once its estimate is no worse than the plans
    made for the values."""
    if connection.vendor != "postgresql":
        return []
    from psycopg import ClientCursor

    lines = []
    for name, reads in _READS.items():
        with connection.cursor() as cursor:
            literal = ClientCursor(cursor.connection)
            for number, (sql, params) in enumerate(reads, start=1):
                cursor.execute(f"PREPARE bench_plan AS {_numbered(sql)}")
                arguments = ", ".join(literal.mogrify("%s", [param]) for param in params)
                timings, whole = {}, set()
                for mode in ("generic", "custom"):
                    cursor.execute(f"SET plan_cache_mode = force_{mode}_plan")
                    cursor.execute(f"EXPLAIN (ANALYZE) EXECUTE bench_plan({arguments})")
                    plan = [row[0] for row in cursor.fetchall()]
                    timings[mode] = float(plan[-1].split(":")[1].split()[0])
                    if mode == "generic":
                        whole = {
                            line.split(" on ")[1].split()[0] for line in plan if "Seq Scan" in line
                        }
                cursor.execute("SET plan_cache_mode = auto")
                cursor.execute("DEALLOCATE bench_plan")
                lines.append(
                    f"BENCH plan {name}.{number} generic_ms={timings['generic']:.3f} "
                    f"custom_ms={timings['custom']:.3f} "
                    f"read_whole={','.join(sorted(whole)) or '-'} sql={' '.join(sql.split())[:60]}"
                )
    return lines


def _numbered(sql: str) -> str:
    """Django's %s placeholders as PREPARE's $1, $2, ... (and its %% as %)."""
    parts = sql.replace("%%", "\0").split("%s")
    numbered = "".join(f"{part}${index}" for index, part in enumerate(parts[:-1], start=1))
    return (numbered + parts[-1]).replace("\0", "%")


def measure(runs: int) -> list[str]:
    clinic = Clinic.objects.get(slug=LARGE)
    location = Location.objects.select_related("clinic").get(clinic=clinic)
    practitioners = list(Practitioner.objects.filter(clinic=clinic).order_by("pk"))
    kind = AppointmentType.objects.get(clinic=clinic)
    specialty = Specialty.objects.filter(clinic=clinic).order_by("pk").first()
    patients = list(
        Patient.objects.filter(clinic=clinic)
        .exclude(appointments__start__gte=timezone.now())
        .order_by("pk")[: runs + 1]
    )
    demand = availability.Demand.build(appointment_type=kind)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    lines = []

    def slots_practitioner(run: int) -> object:
        return availability.free_slots(
            location=location,
            practitioner_ids=[practitioners[run % PRACTITIONERS].pk],
            demand=demand,
            date_from=tomorrow,
            date_to=tomorrow + datetime.timedelta(days=13),
        )

    lines.append(_time("slots_practitioner_14d", runs, slots_practitioner))

    def slots_specialty(run: int) -> object:
        return availability.free_slots(
            location=location,
            practitioner_ids=availability.practitioners_for(location, specialty=specialty),
            demand=demand,
            date_from=tomorrow + datetime.timedelta(days=run % 7),
            date_to=tomorrow + datetime.timedelta(days=run % 7 + 6),
        )

    lines.append(_time("slots_specialty_10x7d", runs, slots_specialty))

    def next_available(run: int) -> object:
        return availability.next_available(
            location=location,
            practitioner_ids=[practitioners[run % PRACTITIONERS].pk],
            demand=demand,
            date_from=tomorrow + datetime.timedelta(days=run % 30),
            count=3,
        )

    lines.append(_time("next_available", runs, next_available))

    plan = _bookable(location, practitioners, demand, tomorrow + datetime.timedelta(days=20), runs)
    by_pk = {p.pk: p for p in practitioners}
    rooms = {room.pk: room for room in Room.objects.filter(location=location)}

    def book(run: int) -> object:
        slot, room = plan[run]
        return booking.book_appointment(
            location=location,
            practitioner=by_pk[slot.practitioner_id],
            patient=patients[run],
            appointment_type=kind,
            start=slot.start,
            room=rooms[room],
        )

    lines.append(_time("book", runs, book))
    return lines


def measure_pull(runs: int = 5) -> str:
    """`pms_pull_500`: read a Dentalink simulator's calendar over a real socket and apply it,
    each time with 500 appointments booked directly there since the last read (a fresh
    simulator per run, so every one of them is new)."""
    clinic, _ = Clinic.objects.get_or_create(
        slug="bench-pms", defaults={"name": "Bench PMS clinic", "kind": "dental"}
    )
    location, _ = Location.objects.get_or_create(clinic=clinic, name="Providencia",
                                                 defaults={"time_zone": ZONE})  # fmt: skip
    dentists = list(Practitioner.objects.filter(clinic=clinic).order_by("pk"))
    if not dentists:
        dentists = [Practitioner.objects.create(clinic=clinic, given_name=f"Dentist{n}",
                                                family_name="Bench") for n in range(5)]  # fmt: skip
    chairs = list(Room.objects.filter(location=location).order_by("pk")) or [
        Room.objects.create(location=location, name=f"Sillón {n}") for n in (1, 2, 3)
    ]
    durations, queries, busy = [], 0, 0
    os.environ["PMS_BENCH_PULL_TOKEN"] = TOKEN
    today = timezone.localdate()
    for run in range(runs + 1):  # the first is the warm-up
        simulator = DentalinkSimulator().start()
        try:
            with override_settings(VENDOR_ALLOWED_HOSTS=[simulator.url.split("//")[1]]):
                VendorConnection.objects.filter(clinic=clinic).delete()
                pms = VendorConnection.objects.create(
                    clinic=clinic, vendor="dentalink", base_url=f"{simulator.url}/api/v1",
                    secrets={"api_token": "PMS_BENCH_PULL_TOKEN"},
                )  # fmt: skip
                for record, external in [(location, "1"), *[(d, str(n)) for n, d in
                                         enumerate(dentists, 1)], *[(c, str(n)) for n, c in
                                         enumerate(chairs, 1)]]:  # fmt: skip
                    ExternalId.objects.create(connection=pms, record=record, external_id=external)
                for n in range(PULLED):
                    day = today + datetime.timedelta(days=1 + n // 50)
                    hour, quarter = 8 + (n % 50) // 5, n % 5
                    local = datetime.datetime.combine(
                        day, datetime.time(hour), tzinfo=location.zone
                    )
                    chair = str(quarter + 1) if quarter < 3 else "7"  # 7: the sobrecupo chair
                    booked = {"practitioner": str(n % 5 + 1), "location": "1", "room": chair,
                              "minutes": 30, "start": local.isoformat()}  # fmt: skip
                    reply = simulator.direct("book", booked)
                    if reply.status >= 400:
                        raise RuntimeError(f"the simulator refused a direct booking: {reply.body}")
                reset_queries()
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    outcome = calendar.pull(pms, full=True)
                    elapsed = (time.perf_counter() - started) * 1000
                if not outcome.pulled:
                    raise RuntimeError(outcome.message)
                if run:
                    durations.append(elapsed)
                    queries, busy = max(queries, len(captured)), outcome.busy
        finally:
            simulator.stop()
    p50 = statistics.median(durations)
    p95 = max(durations)
    return (
        f"BENCH pms_pull_500 backend={connection.vendor} runs={runs} p50_ms={p50:.2f} "
        f"p95_ms={p95:.2f} queries={queries} busy_spans={busy}"
    )


def measure_import(patients: int = 10_000) -> str:
    """`import_patients_10k`: a clinic's patients imported from a NexHealth simulator over a
    real socket (its documented cursor pages and pacing), into an empty clinic; with the peak
    of Python memory the import allocated (streamed pages, bulk writes: bounded)."""
    clinic = Clinic.objects.create(
        name=f"Bench import {timezone.now():%H%M%S%f}", slug=f"bi-{time.time_ns()}"
    )
    os.environ["PMS_BENCH_NEXHEALTH_KEY"] = NEXHEALTH_KEY
    simulator = NexHealthSimulator().start()
    simulator.patient_count = patients
    try:
        with override_settings(VENDOR_ALLOWED_HOSTS=[simulator.url.split("//")[1]]):
            pms = VendorConnection.objects.create(
                clinic=clinic, vendor="nexhealth", base_url=simulator.url, active=False,
                secrets={"api_key": "PMS_BENCH_NEXHEALTH_KEY"},
                options={"subdomain": NEXHEALTH_SUBDOMAIN},
            )  # fmt: skip
            importing.import_from_vendor(pms, kinds=["locations"])
            tracemalloc.start()
            started = time.perf_counter()
            report = importing.import_from_vendor(pms, kinds=["patients"])
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    finally:
        simulator.stop()
    found = report.kinds["patients"]
    return (
        f"BENCH import_patients_10k backend={connection.vendor} runs=1 seconds={elapsed:.2f} "
        f"created={found.created} skipped={len(found.skipped)} peak_mb={peak / 2**20:.1f}"
    )
