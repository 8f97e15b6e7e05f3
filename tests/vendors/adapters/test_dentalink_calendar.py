"""Dentalink's calendar over real sockets: the agenda read (citas and Bloqueos, merged, in
UTC), status back-sync of our citas through the state catalogue and the citas list, paging,
faults mid-read, the horariosdisponibles pre-flight and the simulator's direct changes."""

import dataclasses
import datetime
import json
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.dentalink import TIME_ZONE, request, settings
from vendors.adapters.dentalink import DentalinkAdapter
from vendors.errors import (
    NotSupported,
    OutcomeUnknown,
    SlotUnavailable,
    UnexpectedResponse,
    VendorUnavailable,
)
from vendors.simulators.base import Reply
from vendors.simulators.dentalink import TOKEN, DentalinkSimulator
from vendors.types import APPOINTMENT, BLOCK, BusySpan, CalendarQuery

VENDOR = "dentalink"
SANTIAGO = zoneinfo.ZoneInfo(TIME_ZONE)
NEXT_YEAR = datetime.date.today().year + 1
HEADERS = {"Authorization": f"Token {TOKEN}"}
AGENDA = "/api/v1/sucursales/1/dentistas/{}/agendas"


@pytest.fixture
def simulator(simulator):
    simulator.page_size = DentalinkSimulator.page_size  # the simulator lives for the module
    return simulator


@pytest.fixture
def connect(simulator):
    def connect(**options) -> DentalinkAdapter:
        return DentalinkAdapter(settings(simulator.url, **options))

    return connect


def day(month: int, number: int) -> datetime.date:
    return datetime.date(NEXT_YEAR, month, number)


def local(date: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """A Santiago wall-clock time on `date`, as the aware UTC instant."""
    moment = datetime.datetime.combine(date, datetime.time(hour, minute), SANTIAGO)
    return moment.astimezone(datetime.UTC)


def offset_change(month: int) -> datetime.date:
    """The first day of `month` whose noon has another UTC offset than the day before."""
    date = day(month, 2)
    while local(date, 12).hour == local(date - datetime.timedelta(days=1), 12).hour:
        date += datetime.timedelta(days=1)
    return date


def window(first: datetime.date, days: int = 1, **fields) -> CalendarQuery:
    """Whole local days from `first`, dentists 1 and 2 at branch 1 unless told otherwise."""
    return CalendarQuery(
        start=local(first, 0),
        end=local(first + datetime.timedelta(days=days), 0),
        time_zone=TIME_ZONE,
        **{"practitioners": ("1", "2"), "locations": ("1",), **fields},
    )


def direct(simulator, **data) -> dict:
    answer = requests.post(f"{simulator.url}/__simulator/direct", json=data, timeout=5)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def book_direct(simulator, start: datetime.datetime, **data) -> str:
    fields = {"practitioner": "1", "patient": "501", "minutes": 30, **data}
    return direct(simulator, action="book", start=start.isoformat(), **fields)["id"]


def book_ours(adapter, start: datetime.datetime, minutes: int = 30, **refs) -> str:
    end = start + datetime.timedelta(minutes=minutes)
    booking = request(start=start, end=end, refs={**request().refs, **refs})
    return adapter.book(booking).external_id


def put_state(simulator, cita: str, state: int) -> None:
    answer = requests.put(
        f"{simulator.url}/api/v1/citas/{cita}", json={"id_estado": state}, headers=HEADERS,
        timeout=5,
    )  # fmt: skip
    assert answer.status_code == 200


def sent(simulator, path: str) -> list:
    """The reads of this path the simulator got."""
    return [
        item
        for item in simulator.requests
        if item.method == "GET" and item.path.rstrip("/") == path.rstrip("/")
    ]


def by_id(spans: list[BusySpan]) -> dict[str, BusySpan]:
    return {span.external_id: span for span in spans}


# -- busy time from the agenda ----------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [day(1, 15), day(7, 15), offset_change(4), offset_change(9)],
    ids=["summer", "winter", "dst-ends", "dst-starts"],
)
def test_a_direct_booking_and_a_block_come_back_in_utc(adapter, simulator, date):
    cita = book_direct(simulator, local(date, 10), minutes=60, room="2")
    direct(simulator, action="book", kind="block", practitioner="1",
           start=local(date, 14).isoformat(), minutes=45)  # fmt: skip

    read = adapter.read_calendar(window(date))

    assert (read.complete, read.cursor, read.lists_appointments) == (True, "", True)
    assert read.spans == [
        BusySpan(local(date, 10), local(date, 11), APPOINTMENT, external_id=cita,
                 practitioner="1", room="2", location="1", patient="501"),
        BusySpan(local(date, 14), local(date, 14, 45), BLOCK,
                 external_id=f"bloqueo:1:{date}:14:00", practitioner="1", location="1"),
    ]  # fmt: skip


def test_a_window_across_the_dst_change_keeps_each_days_offset(adapter, simulator):
    sunday = offset_change(4)
    saturday = sunday - datetime.timedelta(days=1)
    before = book_direct(simulator, local(saturday, 10))
    after = book_direct(simulator, local(sunday, 10))

    spans = by_id(adapter.read_calendar(window(saturday, days=2)).spans)

    assert spans[before].start - local(saturday, 0) == datetime.timedelta(hours=10)
    assert spans[after].start.hour == spans[before].start.hour + 1  # UTC-3, then UTC-4


def test_the_agenda_is_read_per_dentist_in_14_day_chunks_with_details(adapter, simulator):
    first = day(3, 1)

    adapter.read_calendar(window(first, days=30, practitioners=("1", "x", "2")))

    ranges = [
        json.loads(item.query["q"]) for item in simulator.requests if item.path.endswith("/agendas")
    ]
    assert [item.path for item in simulator.requests] == (
        [AGENDA.format(1)] * 3 + [AGENDA.format(2)] * 3  # "x" is no Dentalink ID: not read
    )
    assert ranges[:3] == [
        {"fecha_inicio": {"eq": f"{NEXT_YEAR}-03-01"}, "fecha_fin": {"eq": f"{NEXT_YEAR}-03-14"},
         "mostrar_detalles": {"eq": "1"}},
        {"fecha_inicio": {"eq": f"{NEXT_YEAR}-03-15"}, "fecha_fin": {"eq": f"{NEXT_YEAR}-03-28"},
         "mostrar_detalles": {"eq": "1"}},
        {"fecha_inicio": {"eq": f"{NEXT_YEAR}-03-29"}, "fecha_fin": {"eq": f"{NEXT_YEAR}-03-30"},
         "mostrar_detalles": {"eq": "1"}},
    ]  # fmt: skip


def test_spans_are_merged_from_their_cells_and_cut_to_the_window(adapter, simulator):
    date = day(3, 2)
    long = book_direct(simulator, local(date, 9), minutes=90)  # six 15-minute cells
    other = book_direct(simulator, local(date, 9), practitioner="2", room="2", minutes=20)
    late = book_direct(simulator, local(date, 20))
    query = dataclasses.replace(window(date), end=local(date, 19))

    spans = adapter.read_calendar(query).spans

    assert [(span.external_id, span.start, span.end) for span in spans] == [
        (long, local(date, 9), local(date, 10, 30)),
        (other, local(date, 9), local(date, 9, 20)),
    ]
    assert late not in by_id(spans)


def test_without_our_appointments_only_the_agendas_are_read(adapter, simulator):
    book_direct(simulator, local(day(3, 2), 9))

    adapter.read_calendar(window(day(3, 2)))

    assert {item.path for item in simulator.requests} == {AGENDA.format(1), AGENDA.format(2)}


def test_the_sobrecupo_chair_is_no_room_and_patient_names_stay_out(adapter, simulator):
    date = day(3, 2)
    cita = book_direct(simulator, local(date, 9), room="7", location="1")

    (span,) = adapter.read_calendar(window(date)).spans

    assert (span.external_id, span.room, span.patient) == (cita, "", "501")
    cells = json.dumps([exchange.response for exchange in adapter.exchanges])
    assert "Paciente 501" not in cells
    assert '"apellidos_paciente": "***"' in cells


def test_a_day_without_schedule_is_read_as_empty(adapter, simulator):
    date = day(3, 7)  # whichever weekday it is, it is the one taken off
    simulator.days_off = {date.weekday()}

    read = adapter.read_calendar(window(date - datetime.timedelta(days=1), days=2))

    assert read.spans == []
    answer = requests.get(
        f"{simulator.url}{AGENDA.format(1)}",
        params={"q": json.dumps({"fecha_inicio": {"eq": str(date)}, "fecha_fin": {"eq": str(date)},
                                 "mostrar_detalles": {"eq": "1"}})},
        headers=HEADERS, timeout=5,
    )  # fmt: skip
    assert answer.json() == {"data": {"fechas": {str(date): []}}}


# -- our citas: status back-sync ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "vendor_status", "status", "active"),
    [
        (("direct", "cancel"), "Anulado", "cancelled", False),
        (("state", 3), "Confirmado por teléfono", "confirmed", True),
        (("state", 2), "Atendido", "completed", True),
        (("state", 7), "No confirmado", "unconfirmed", True),
    ],
    ids=["cancelled", "confirmed", "attended", "unconfirmed"],
)
def test_our_citas_come_back_with_their_state(
    adapter, simulator, change, vendor_status, status, active
):
    date = day(3, 2)
    ours = book_ours(adapter, local(date, 9))
    if change[0] == "direct":
        direct(simulator, action=change[1], id=ours)
    else:
        put_state(simulator, ours, change[1])

    spans = by_id(adapter.read_calendar(window(date, ours=(ours,))).spans)

    assert spans[ours] == BusySpan(
        local(date, 9), local(date, 9, 30), APPOINTMENT, external_id=ours, practitioner="1",
        room="1", location="1", patient="2", vendor_status=vendor_status, status=status,
        active=active,
    )  # fmt: skip
    assert len(sent(simulator, "/api/v1/citas/estados")) == 1


def test_an_unknown_state_has_no_canonical_status(connect):
    catalogue = {2: {"id": 2, "nombre": "Atendido", "reservado": 0, "anulacion": 0},
                 9: {"id": 9, "nombre": "Confirmado WhatsApp", "confirmacion": 1},
                 8: {"id": 8, "nombre": "Cancelado por el paciente", "anulacion": 1}}  # fmt: skip
    adapter = connect()

    assert adapter.calendar_status({"id_estado": 2}, catalogue) is None  # the clinic's own
    assert adapter.calendar_status({"id_estado": 9}, catalogue) == "confirmed"
    assert adapter.calendar_status({"id_estado": 8}, catalogue) == "cancelled"
    assert adapter.calendar_status({"id_estado": 5}, catalogue) is None
    assert (
        connect(status_by_state_id={"5": "no_show"}).calendar_status({"id_estado": 5}, catalogue)
        == "no_show"
    )


@pytest.mark.parametrize(
    ("to_month", "looked_up"), [(3, False), (5, True)], ids=["in-window", "out-of-window"]
)
def test_a_cita_of_ours_moved_in_dentalink_comes_back_with_its_new_time(
    adapter, simulator, to_month, looked_up
):
    date = day(3, 2)
    ours = book_ours(adapter, local(date, 9))
    moved_to = local(day(to_month, 3), 16, 30)
    direct(simulator, action="move", id=ours, start=moved_to.isoformat(), minutes=45)

    spans = by_id(adapter.read_calendar(window(date, days=2, ours=(ours,))).spans)

    assert (spans[ours].start, spans[ours].end, spans[ours].active) == (
        moved_to,
        moved_to + datetime.timedelta(minutes=45),
        True,
    )
    assert bool(sent(simulator, f"/api/v1/citas/{ours}")) is looked_up


def test_a_cita_of_ours_deleted_in_dentalink_is_left_out(adapter, simulator):
    date = day(3, 2)
    kept, deleted = book_ours(adapter, local(date, 9)), book_ours(adapter, local(date, 10))
    direct(simulator, action="delete", id=deleted)

    spans = by_id(adapter.read_calendar(window(date, ours=(kept, deleted))).spans)

    assert set(spans) == {kept}
    assert len(sent(simulator, f"/api/v1/citas/{deleted}")) == 1  # answered 404


def test_the_citas_list_is_followed_to_its_end(adapter, simulator):
    simulator.page_size = 2
    date = day(3, 2)
    ours = [book_ours(adapter, local(date, 9 + hour)) for hour in range(5)]
    direct(simulator, action="cancel", id=ours[-1])  # on the last page

    spans = by_id(adapter.read_calendar(window(date, ours=tuple(ours))).spans)

    assert [item.query.get("page") for item in sent(simulator, "/api/v1/citas")] == [
        None, "2", "3"
    ]  # fmt: skip
    assert [spans[key].status for key in ours] == ["unconfirmed"] * 4 + ["cancelled"]
    assert not [item for item in simulator.requests if item.path.startswith("/api/v1/citas/7")]


# -- faults mid-read ----------------------------------------------------------------------------


def test_a_429_mid_read_is_waited_out(adapter, simulator):
    date = day(3, 2)
    cita = book_direct(simulator, local(date, 9), practitioner="2", room="2")
    simulator.inject("429", path=AGENDA.format(2))

    read = adapter.read_calendar(window(date))

    assert by_id(read.spans)[cita].practitioner == "2"
    assert len(sent(simulator, AGENDA.format(2))) == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", OutcomeUnknown), ("garbage", UnexpectedResponse),
     ("wrong_types", UnexpectedResponse), ("empty", UnexpectedResponse)],
)  # fmt: skip
def test_a_failure_mid_read_raises(adapter, simulator, fault, error):
    book_direct(simulator, local(day(3, 2), 9))
    simulator.inject(fault, path=AGENDA.format(2))

    with pytest.raises(error):
        adapter.read_calendar(window(day(3, 2)))


@pytest.mark.parametrize(
    "answer",
    [
        Reply(500, {"error": {"message": "Error interno"}}),
        Reply(200, "<html>Bad gateway</html>"),
        Reply(200, {"data": {"no": "list"}}),
        Reply(200, {"data": [], "links": [{"rel": "next", "href": "https://evil.example/p2"}]}),
    ],
    ids=["500", "garbage", "not-a-list", "next-elsewhere"],
)
def test_a_citas_page_that_fails_fails_the_read(adapter, simulator, monkeypatch, answer):
    simulator.page_size = 1
    ours = [book_ours(adapter, local(day(3, 2), hour)) for hour in (9, 10)]
    listing = simulator.list_citas
    monkeypatch.setattr(
        simulator, "list_citas",
        lambda asked: answer if asked.query.get("page") == "2" else listing(asked),
    )  # fmt: skip

    with pytest.raises((OutcomeUnknown, UnexpectedResponse)):
        adapter.read_calendar(window(day(3, 2), ours=tuple(ours)))


@pytest.mark.parametrize(
    "cell",
    [False, "Cita", {"tipo": "Cita", "inicio": "09:00:00", "fin": "09:30:00"}],
    ids=["no-details", "text", "cita-without-id"],
)
def test_an_agenda_cell_of_another_shape_is_unreadable(adapter, simulator, monkeypatch, cell):
    date = str(day(3, 2))
    answer = {"data": {"fechas": {date: {"horas": {"09:00": {"sillones": {"1": cell}}}}}}}
    monkeypatch.setattr(simulator, "agenda", lambda asked: Reply(200, answer))

    with pytest.raises(UnexpectedResponse, match="shape we cannot read"):
        adapter.read_calendar(window(day(3, 2)))


# -- the pre-flight: horariosdisponibles --------------------------------------------------------


def test_is_free_asks_horariosdisponibles_for_the_local_day(adapter, simulator):
    start = local(day(7, 15), 21, 0) - datetime.timedelta(hours=1)  # 20:00 local

    assert adapter.is_free(request(start=start, end=start + datetime.timedelta(minutes=30)))

    (asked,) = simulator.requests
    assert (asked.method, asked.path) == ("GET", "/api/v1/horariosdisponibles")
    assert asked.json == {
        "ids_dentista": [1],
        "id_sucursal": 1,
        "fecha_inicio": f"{NEXT_YEAR}-07-15",
        "fecha_fin": f"{NEXT_YEAR}-07-15",
    }


@pytest.mark.parametrize(
    ("taken", "hour", "minute", "minutes", "free"),
    [
        (None, 9, 0, 45, True),  # three free 15-minute blocks, joined
        ("cita", 9, 0, 30, False),
        ("cita", 9, 30, 30, True),  # starts where the cita ends
        ("cita", 8, 45, 30, False),  # runs into it
        ("block", 9, 15, 15, False),
        ("day-off", 9, 0, 30, False),
        (None, 20, 45, 30, False),  # past the end of the day
    ],
)
def test_is_free_fits_the_request_in_the_free_blocks(
    adapter, simulator, taken, hour, minute, minutes, free
):
    date = day(3, 2)
    if taken == "cita":
        book_direct(simulator, local(date, 9), practitioner="1", room="3")
    elif taken == "block":
        direct(simulator, action="book", kind="block", practitioner="1",
               start=local(date, 9).isoformat(), minutes=30)  # fmt: skip
    elif taken == "day-off":
        simulator.days_off = {date.weekday()}
    start = local(date, hour, minute)

    asked = request(start=start, end=start + datetime.timedelta(minutes=minutes))

    assert adapter.is_free(asked) is free


def test_is_free_raises_when_dentalink_is_too_slow(adapter, simulator):
    simulator.inject("timeout", path="/api/v1/horariosdisponibles")
    start = local(day(3, 2), 9)

    with pytest.raises(VendorUnavailable):
        adapter.is_free(request(start=start, end=start + datetime.timedelta(minutes=30)))


def test_is_free_cannot_check_a_booking_by_specialty(adapter, simulator):
    refs = {**request().refs, "specialty": "1"}
    del refs["practitioner"]

    with pytest.raises(NotSupported):
        adapter.is_free(request(refs=refs))
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ids_dentista": [1], "id_sucursal": 1, "fecha_inicio": f"{NEXT_YEAR}-03-01",
          "fecha_fin": f"{NEXT_YEAR}-03-16"},
         "El plazo máximo entre fecha_inicio y fecha_fin es de 2 semanas"),
        ({"ids_dentista": [], "id_sucursal": 1, "fecha_inicio": f"{NEXT_YEAR}-03-01",
          "fecha_fin": f"{NEXT_YEAR}-03-01"},
         "Debe indicar ids_dentista, id_sucursal, fecha_inicio y fecha_fin"),
        ({"ids_dentista": list(range(1, 102)), "id_sucursal": 1,
          "fecha_inicio": f"{NEXT_YEAR}-03-01", "fecha_fin": f"{NEXT_YEAR}-03-01"},
         "El máximo de ids_dentista es 100"),
    ],
)  # fmt: skip
def test_simulator_holds_horariosdisponibles_to_its_documented_limits(simulator, body, message):
    answer = requests.get(
        f"{simulator.url}/api/v1/horariosdisponibles", json=body, headers=HEADERS, timeout=5
    )

    assert (answer.status_code, answer.json()) == (400, {"error": {"message": message}})


def test_simulator_leaves_dentists_without_schedule_out_of_horariosdisponibles(simulator):
    body = {"ids_dentista": [99], "id_sucursal": 1, "fecha_inicio": f"{NEXT_YEAR}-03-01",
            "fecha_fin": f"{NEXT_YEAR}-03-01"}  # fmt: skip

    answer = requests.get(
        f"{simulator.url}/api/v1/horariosdisponibles", json=body, headers=HEADERS, timeout=5
    )

    assert answer.json() == {"data": []}


# -- direct changes conflict with API bookings --------------------------------------------------


@pytest.mark.parametrize("kind", ["appointment", "block"])
def test_a_direct_booking_or_block_takes_the_time_from_api_bookings(adapter, simulator, kind):
    start = local(day(3, 2), 9)
    direct(simulator, action="book", kind=kind, practitioner="1", start=start.isoformat(),
           minutes=30, room="2")  # fmt: skip

    with pytest.raises(SlotUnavailable):
        book_ours(adapter, start)


def test_a_direct_booking_over_an_api_booking_is_refused_like_dentalink_refuses(adapter, simulator):
    start = local(day(3, 2), 9)
    book_ours(adapter, start)

    answer = requests.post(
        f"{simulator.url}/__simulator/direct",
        json={"action": "book", "practitioner": "1", "room": "2", "start": start.isoformat()},
        timeout=5,
    )

    assert (answer.status_code, answer.json()["error"]["message"]) == (
        400, "El horario seleccionado no se encuentra disponible"
    )  # fmt: skip


def test_a_direct_move_onto_a_taken_time_is_refused_and_a_cancel_frees_it(adapter, simulator):
    date = day(3, 2)
    ours = book_ours(adapter, local(date, 9))
    other = book_direct(simulator, local(date, 10), room="2")
    move = {"action": "move", "id": other, "start": local(date, 9).isoformat()}

    refused = requests.post(f"{simulator.url}/__simulator/direct", json=move, timeout=5)
    direct(simulator, action="cancel", id=ours)

    assert refused.status_code == 400
    assert direct(simulator, **move) == {"id": other}
    assert simulator.citas[int(other)]["hora_inicio"] == "09:00:00"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"action": "cancel", "id": "999"}, 404),
        ({"action": "delete", "id": "B9"}, 404),
        ({"action": "book", "practitioner": "99", "start": "2027-03-02T09:00:00-03:00"}, 400),
        ({"action": "book", "practitioner": "1", "start": "soon"}, 400),
        ({"action": "book", "practitioner": "1", "start": "2027-03-02T09:00", "kind": "x"}, 400),
        ({"action": "teleport"}, 400),
    ],
)
def test_the_direct_endpoint_refuses_what_it_cannot_do(simulator, data, status):
    answer = requests.post(f"{simulator.url}/__simulator/direct", json=data, timeout=5)

    assert answer.status_code == status


def test_a_directly_removed_block_frees_the_dentist(adapter, simulator):
    date = day(3, 2)
    block = direct(simulator, action="book", kind="block", practitioner="1",
                   start=local(date, 9).isoformat(), minutes=60)["id"]  # fmt: skip
    direct(simulator, action="move", id=block, start=local(date, 12).isoformat())

    assert [span.start for span in adapter.read_calendar(window(date)).spans] == [local(date, 12)]
    direct(simulator, action="cancel", id=block)
    assert adapter.read_calendar(window(date)).spans == []
    assert book_ours(adapter, local(date, 12))
