"""Demo data: two clinics in two time zones, realistic enough to book in. Idempotent."""

import dataclasses
import datetime
import random
import unicodedata
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from scheduling import availability, booking, slot_cache
from scheduling.cancel_reasons import ensure_default_reasons
from scheduling.errors import BookingError
from scheduling.localtime import to_utc
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Clinic,
    ClinicKind,
    ClinicMembership,
    IdentityDocument,
    Location,
    ModalityOffer,
    Patient,
    Practitioner,
    Role,
    Room,
    RoomKind,
    Sex,
    Specialty,
    UserPreferences,
    WorkingHours,
)
from scheduling.national_ids import format_rut

MON, TUE, WED, THU, FRI = range(5)
WEEK = datetime.timedelta(days=7)
MIDNIGHT = datetime.time(0)
WEEKDAYS = (MON, TUE, WED, THU, FRI)
IN_PERSON, VIDEO, BOTH = ModalityOffer.IN_PERSON, ModalityOffer.VIDEO, ModalityOffer.BOTH

DEMO_USERS = {
    "reception": ("demo-reception", Role.RECEPTIONIST, False),
    "manager": ("demo-manager", Role.MANAGER, True),
}
MANAGER_GROUP = "Clinic managers"


@dataclasses.dataclass(frozen=True)
class Block:
    location: str
    weekdays: tuple[int, ...]
    start: str
    end: str
    interval: int = 15
    modality: str = IN_PERSON


@dataclasses.dataclass(frozen=True)
class PractitionerSpec:
    title: str
    given_name: str
    family_name: str
    specialties: tuple[str, ...]
    blocks: tuple[Block, ...]


@dataclasses.dataclass(frozen=True)
class TypeSpec:
    name: str
    duration: int
    before: int = 0
    after: int = 0
    modalities: str = IN_PERSON
    specialty: str | None = None


@dataclasses.dataclass(frozen=True)
class ClinicSpec:
    name: str
    slug: str
    kind: str
    allows_overflow_booking: bool
    time_zone: str
    language: str
    locations: dict[str, dict[str, str]]
    rooms: dict[str, tuple[tuple[str, str, bool], ...]]
    specialties: tuple[str, ...]
    practitioners: tuple[PractitionerSpec, ...]
    appointment_types: tuple[TypeSpec, ...]
    patients: int


SONRISA = ClinicSpec(
    name="Clínica Dental Sonrisa",
    slug="sonrisa",
    kind=ClinicKind.DENTAL,
    allows_overflow_booking=True,
    time_zone="America/Santiago",
    language="es",
    locations={
        "Providencia": {"address": "Av. Providencia 1208, Santiago", "phone": "+56 2 2345 6789"},
        "Las Condes": {"address": "Av. Apoquindo 4501, Las Condes", "phone": "+56 2 2987 6543"},
    },
    rooms={
        "Providencia": (
            ("Sillón 1", RoomKind.CHAIR, False),
            ("Sillón 2", RoomKind.CHAIR, False),
            ("Sillón 3", RoomKind.CHAIR, False),
            ("Sobrecupo", RoomKind.CHAIR, True),
        ),
        "Las Condes": (
            ("Sillón 1", RoomKind.CHAIR, False),
            ("Sillón 2", RoomKind.CHAIR, False),
            ("Sobrecupo", RoomKind.CHAIR, True),
        ),
    },
    specialties=("Odontología general", "Ortodoncia", "Endodoncia", "Periodoncia"),
    practitioners=(
        PractitionerSpec(
            "Dra.",
            "Camila",
            "Rojas",
            ("Odontología general",),
            (
                Block("Providencia", (MON, TUE, WED, THU), "09:00", "13:00"),
                Block("Providencia", (MON, TUE, WED, THU), "14:00", "18:00"),
                Block("Providencia", (FRI,), "09:00", "12:00", 15, BOTH),
            ),
        ),
        PractitionerSpec(
            "Dr.",
            "Matías",
            "González",
            ("Ortodoncia",),
            (
                Block("Las Condes", (MON, WED, FRI), "09:00", "13:00", 30),
                Block("Providencia", (TUE, THU), "10:00", "16:00", 30),
                Block("Providencia", (WED,), "18:00", "20:00", 20, VIDEO),
            ),
        ),
        PractitionerSpec(
            "Dra.",
            "Valentina",
            "Muñoz",
            ("Endodoncia",),
            (
                Block("Providencia", WEEKDAYS, "08:30", "12:30", 30),
                Block("Las Condes", (TUE, THU), "14:00", "18:00", 30),
            ),
        ),
        PractitionerSpec(
            "Dr.",
            "Benjamín",
            "Soto",
            ("Periodoncia", "Odontología general"),
            (
                Block("Las Condes", WEEKDAYS, "09:00", "13:00"),
                Block("Las Condes", (MON, WED), "15:00", "19:00"),
            ),
        ),
        PractitionerSpec(
            "Dra.",
            "Antonia",
            "Pérez",
            ("Odontología general",),
            (
                Block("Providencia", (MON, WED, FRI), "14:00", "19:00"),
                Block("Las Condes", (TUE, THU), "09:00", "13:00"),
            ),
        ),
    ),
    appointment_types=(
        TypeSpec("Control", 30, specialty="Odontología general"),
        TypeSpec("Limpieza dental", 45, after=15, specialty="Odontología general"),
        TypeSpec("Evaluación de ortodoncia", 30, modalities=BOTH, specialty="Ortodoncia"),
        TypeSpec("Tratamiento de conducto", 90, before=10, after=15, specialty="Endodoncia"),
        TypeSpec("Teleconsulta", 20, modalities=VIDEO),
        TypeSpec("Urgencia dental", 30, specialty="Odontología general"),
    ),
    patients=150,
)

LILAS = ClinicSpec(
    name="Clinique Vétérinaire des Lilas",
    slug="lilas",
    kind=ClinicKind.VETERINARY,
    allows_overflow_booking=False,
    time_zone="Europe/Paris",
    language="fr",
    locations={
        "Paris 11e": {"address": "42 rue Oberkampf, 75011 Paris", "phone": "+33 1 43 55 12 34"},
        "Montreuil": {"address": "8 rue de Paris, 93100 Montreuil", "phone": "+33 1 48 70 22 10"},
    },
    rooms={
        "Paris 11e": (
            ("Consultation 1", RoomKind.ROOM, False),
            ("Consultation 2", RoomKind.ROOM, False),
            ("Bloc opératoire", RoomKind.OPERATORY, False),
            ("Salle de débordement", RoomKind.ROOM, True),
        ),
        "Montreuil": (
            ("Consultation A", RoomKind.ROOM, False),
            ("Consultation B", RoomKind.ROOM, False),
        ),
    },
    specialties=("Médecine générale", "Chirurgie", "Dermatologie", "NAC"),
    practitioners=(
        PractitionerSpec(
            "Dr",
            "Claire",
            "Martin",
            ("Médecine générale",),
            (
                Block("Paris 11e", WEEKDAYS, "09:00", "12:30"),
                Block("Paris 11e", (MON, TUE, THU), "14:00", "19:00"),
            ),
        ),
        PractitionerSpec(
            "Dr",
            "Julien",
            "Bernard",
            ("Chirurgie", "Médecine générale"),
            (
                Block("Paris 11e", (TUE, THU), "08:00", "13:00", 30),
                Block("Montreuil", (MON, WED, FRI), "09:00", "13:00"),
            ),
        ),
        PractitionerSpec(
            "Dr",
            "Sophie",
            "Lefèvre",
            ("Dermatologie",),
            (
                Block("Montreuil", (MON, TUE, WED, THU), "14:00", "18:00", 20),
                Block("Montreuil", (FRI,), "14:00", "17:00", 20, BOTH),
            ),
        ),
        PractitionerSpec(
            "Dr",
            "Thomas",
            "Moreau",
            ("NAC", "Médecine générale"),
            (
                Block("Montreuil", (TUE, THU), "09:00", "12:00"),
                Block("Paris 11e", (WED, FRI), "14:00", "19:00"),
                Block("Paris 11e", (MON,), "18:00", "20:00", 15, VIDEO),
            ),
        ),
    ),
    appointment_types=(
        TypeSpec("Consultation", 20, specialty="Médecine générale"),
        TypeSpec("Vaccination", 15, specialty="Médecine générale"),
        TypeSpec("Chirurgie programmée", 120, before=15, after=30, specialty="Chirurgie"),
        TypeSpec("Consultation dermatologie", 40, modalities=BOTH, specialty="Dermatologie"),
        TypeSpec("Téléconsultation", 15, modalities=VIDEO),
        TypeSpec("Consultation NAC", 30, specialty="NAC"),
    ),
    patients=100,
)

NUNOA = ClinicSpec(
    name="Centro Médico Ñuñoa",
    slug="nunoa",
    kind=ClinicKind.MEDICAL,
    allows_overflow_booking=False,
    time_zone="America/Santiago",
    language="es",
    locations={"Ñuñoa": {"address": "Av. Irarrázaval 3450, Ñuñoa", "phone": "+56 2 2274 1100"}},
    rooms={
        "Ñuñoa": (
            ("Box 1", RoomKind.ROOM, False),
            ("Box 2", RoomKind.ROOM, False),
            ("Box 3", RoomKind.ROOM, False),
        )
    },
    specialties=("Medicina general", "Pediatría"),
    practitioners=(
        PractitionerSpec(
            "Dra.",
            "Javiera",
            "Fuentes",
            ("Medicina general",),
            (
                Block("Ñuñoa", WEEKDAYS, "08:30", "13:00", 10),
                Block("Ñuñoa", (TUE, THU), "15:00", "18:00", 10, BOTH),
            ),
        ),
        PractitionerSpec(
            "Dr.",
            "Ignacio",
            "Tapia",
            ("Pediatría",),
            (Block("Ñuñoa", (MON, WED, FRI), "14:00", "19:00", 20),),
        ),
    ),
    appointment_types=(
        TypeSpec("Consulta general", 20, specialty="Medicina general"),
        TypeSpec("Control pediátrico", 20, specialty="Pediatría"),
        TypeSpec("Telemedicina", 20, modalities=VIDEO),
    ),
    patients=40,
)

DEMO_CLINICS = (SONRISA, LILAS, NUNOA)

CHILEAN_GIVEN = {
    Sex.FEMALE: ["Sofía", "Isidora", "Florencia", "Agustina", "Josefa", "Martina", "Catalina",
                 "Fernanda", "Javiera", "Constanza", "Francisca", "Daniela", "Paula", "Carolina"],
    Sex.MALE: ["Benjamín", "Vicente", "Martín", "Tomás", "Joaquín", "Agustín", "Cristóbal",
               "Sebastián", "Diego", "Felipe", "Nicolás", "Ignacio", "Gabriel", "Andrés"],
}  # fmt: skip
CHILEAN_FAMILY = [
    "González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez",
    "Sepúlveda", "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya",
    "Flores", "Espinoza", "Valenzuela", "Castillo", "Tapia", "Reyes", "Gutiérrez", "Castro",
]  # fmt: skip
FRENCH_GIVEN = [
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Louis", "Hugo", "Arthur", "Jules", "Lucas",
    "Nathalie", "Isabelle", "Pierre", "Nicolas", "Julie", "Émilie",
]  # fmt: skip
FRENCH_FAMILY = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
]  # fmt: skip
ANIMALS = {
    "dog": (["Rex", "Filou", "Oscar", "Nala", "Ulysse", "Pepsi", "Vanille", "Hercule"],
            ["Labrador", "Berger australien", "Golden retriever", "Bouledogue français", ""]),
    "cat": (["Minou", "Tigrou", "Luna", "Simba", "Caramel", "Moka", "Nougat", "Pixel"],
            ["Européen", "Maine coon", "Siamois", "Chartreux", ""]),
    "rabbit": (["Noisette", "Caramel", "Pompon", "Flocon"], ["Bélier", "Nain", ""]),
    "ferret": (["Zorro", "Filou", "Chipie"], [""]),
}  # fmt: skip


def _mailbox(*parts: str) -> str:
    text = ".".join(part.split()[0] for part in parts)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@dataclasses.dataclass
class DemoSummary:
    clinics: int = 0
    locations: int = 0
    practitioners: int = 0
    rooms: int = 0
    patients: int = 0
    appointments_created: int = 0
    appointments_next_week: int = 0
    users: dict[str, str] = dataclasses.field(default_factory=dict)
    # Staff demo users' authenticator set-up (otpauth:// URLs): the admin asks for a code.
    authenticators: dict[str, str] = dataclasses.field(default_factory=dict)
    # The import report of the clinic seeded from its PMS (Downtown Dental, NexHealth).
    imported: list[str] = dataclasses.field(default_factory=list)


@transaction.atomic
def seed_demo(*, today: datetime.date | None = None) -> DemoSummary:
    summary = DemoSummary()
    clinics = [_seed_clinic(spec) for spec in DEMO_CLINICS]
    connect_to_simulators(clinics[0], clinics[1])
    week_start = _next_monday(today or timezone.localdate())
    for clinic, spec in zip(clinics, DEMO_CLINICS, strict=True):
        summary.appointments_created += _seed_appointments(clinic, spec, week_start)
    slot_cache.clinic_changed(None)  # appointments written in bulk, past their receivers
    imported, summary.imported = import_demo_clinic()
    for clinic in [*clinics, imported]:
        ensure_default_reasons(clinic)
    # A newcomer's desk opens in the clinic booking into a PMS (Dentalink), not the local one.
    summary.users = _seed_users([*clinics, imported], home=clinics[0])
    summary.authenticators = _seed_authenticators()

    clinic_ids = [clinic.pk for clinic in clinics]
    summary.clinics = len(clinics)
    summary.locations = Location.objects.filter(clinic__in=clinic_ids).count()
    summary.practitioners = Practitioner.objects.filter(clinic__in=clinic_ids).count()
    summary.rooms = Room.objects.filter(location__clinic__in=clinic_ids).count()
    summary.patients = Patient.objects.filter(clinic__in=clinic_ids).count()
    summary.appointments_next_week = Appointment.objects.filter(
        clinic__in=clinic_ids,
        start__date__gte=week_start,
        start__date__lt=week_start + datetime.timedelta(days=7),
    ).count()
    return summary


def _next_monday(day: datetime.date) -> datetime.date:
    return day + datetime.timedelta(days=7 - day.weekday())


def _seed_clinic(spec: ClinicSpec) -> Clinic:
    clinic, _ = Clinic.objects.update_or_create(
        slug=spec.slug,
        defaults={
            "name": spec.name,
            "kind": spec.kind,
            "allows_overflow_booking": spec.allows_overflow_booking,
            "language": spec.language,
        },
    )
    locations = {}
    for name, details in spec.locations.items():
        locations[name], _ = Location.objects.update_or_create(
            clinic=clinic, name=name, defaults={"time_zone": spec.time_zone, **details}
        )
        for room_name, kind, overflow in spec.rooms[name]:
            Room.objects.update_or_create(
                location=locations[name],
                name=room_name,
                defaults={"kind": kind, "is_overflow": overflow},
            )
    specialties = {
        name: Specialty.objects.get_or_create(clinic=clinic, name=name)[0]
        for name in spec.specialties
    }
    for type_spec in spec.appointment_types:
        AppointmentType.objects.update_or_create(
            clinic=clinic,
            name=type_spec.name,
            defaults={
                "default_duration_minutes": type_spec.duration,
                "buffer_before_minutes": type_spec.before,
                "buffer_after_minutes": type_spec.after,
                "modalities": type_spec.modalities,
                "specialty": specialties.get(type_spec.specialty or ""),
            },
        )
    for person in spec.practitioners:
        practitioner, _ = Practitioner.objects.update_or_create(
            clinic=clinic,
            given_name=person.given_name,
            family_name=person.family_name,
            defaults={
                "title": person.title,
                "email": _mailbox(person.given_name[0], person.family_name)
                + f"@{spec.slug}.example",
            },
        )
        practitioner.specialties.set([specialties[name] for name in person.specialties])
        practitioner.locations.set({locations[block.location] for block in person.blocks})
        for block in person.blocks:
            for weekday in block.weekdays:
                WorkingHours.objects.update_or_create(
                    practitioner=practitioner,
                    weekday=weekday,
                    start_time=datetime.time.fromisoformat(block.start),
                    defaults={
                        "location": locations[block.location],
                        "end_time": datetime.time.fromisoformat(block.end),
                        "slot_interval_minutes": block.interval,
                        "modality": block.modality,
                    },
                )
    _seed_patients(clinic, spec)
    return clinic


def _seed_patients(clinic: Clinic, spec: ClinicSpec) -> None:
    rng = random.Random(f"patients-{spec.slug}")
    wanted = [
        demo_animal(clinic, rng, index) if clinic.is_veterinary else demo_person(clinic, rng, index)
        for index in range(spec.patients)
    ]
    existing = set(
        Patient.objects.filter(clinic=clinic).values_list("given_name", "family_name", "phone")
    )
    Patient.objects.bulk_create(
        patient
        for patient in wanted
        if (patient.given_name, patient.family_name, patient.phone) not in existing
    )


def demo_person(clinic: Clinic, rng: random.Random, index: int) -> Patient:
    sex = rng.choice([Sex.FEMALE, Sex.MALE])
    given = rng.choice(CHILEAN_GIVEN[sex])
    family = f"{rng.choice(CHILEAN_FAMILY)} {rng.choice(CHILEAN_FAMILY)}"
    minor = index % 9 == 0
    age = rng.randint(4, 16) if minor else rng.randint(19, 88)
    birth = datetime.date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))
    rut = 8_000_000 + index * 97_331 % 17_000_000
    patient = Patient(
        clinic=clinic,
        given_name=given,
        family_name=family,
        birth_date=birth,
        sex=sex,
        phone=f"+56 9 {5000 + index:04d} {rng.randint(1000, 9999)}",
        email=f"{_mailbox(given, family)}{index}@correo.example",
        national_id=format_rut(rut),
        national_id_type=IdentityDocument.RUT,
    )
    if minor:
        guardian = rng.choice(CHILEAN_GIVEN[Sex.FEMALE])
        patient.guardian_name = f"{guardian} {family.split()[0]}"
        patient.guardian_relationship = "madre"
        patient.guardian_phone = f"+56 9 {7000 + index:04d} {rng.randint(1000, 9999)}"
        patient.email = ""
    return patient


def demo_animal(clinic: Clinic, rng: random.Random, index: int) -> Patient:
    species = rng.choice(list(ANIMALS))
    names, breeds = ANIMALS[species]
    owner_given, owner_family = rng.choice(FRENCH_GIVEN), rng.choice(FRENCH_FAMILY)
    pair = f"{rng.randint(10, 99)} {rng.randint(10, 99)}"
    phone = f"+33 6 {10 + index // 100:02d} {index % 100:02d} {pair}"
    return Patient(
        clinic=clinic,
        given_name=rng.choice(names),
        family_name=owner_family,
        birth_date=datetime.date(rng.randint(2010, 2025), rng.randint(1, 12), rng.randint(1, 28)),
        sex=rng.choice([Sex.FEMALE, Sex.MALE]),
        species=species,
        breed=rng.choice(breeds),
        phone=phone,
        guardian_name=f"{owner_given} {owner_family}",
        guardian_relationship="owner",
        guardian_phone=phone,
        guardian_email=f"{_mailbox(owner_given, owner_family)}{index}@mail.example",
    )


def _seed_appointments(clinic: Clinic, spec: ClinicSpec, week_start: datetime.date) -> int:
    """Book about half of next week through the booking service, so every rule holds."""
    zone = zoneinfo.ZoneInfo(spec.time_zone)
    first, last = to_utc(week_start, MIDNIGHT, zone), to_utc(week_start + WEEK, MIDNIGHT, zone)
    if Appointment.objects.filter(clinic=clinic, start__gte=first, start__lt=last).exists():
        return 0
    rng = random.Random(f"appointments-{spec.slug}-{week_start}")
    patients = list(Patient.objects.filter(clinic=clinic).order_by("pk"))
    types = list(AppointmentType.objects.filter(clinic=clinic, active=True).order_by("pk"))
    created = 0
    practitioners = Practitioner.objects.filter(clinic=clinic).prefetch_related("locations")
    for practitioner in practitioners.order_by("pk"):
        for location in sorted(practitioner.locations.all(), key=lambda loc: loc.pk):
            for offset in range(7):
                day = week_start + datetime.timedelta(days=offset)
                created += _fill_day(rng, location, practitioner, day, patients, types)
    return created


def _fill_day(
    rng: random.Random,
    location: Location,
    practitioner: Practitioner,
    day: datetime.date,
    patients: list[Patient],
    types: list[AppointmentType],
) -> int:
    created = 0
    cursor: datetime.datetime | None = None
    # Loaded once a day: what this loop books lies before the cursor, which only moves on.
    schedule = availability.schedule_for(location, [practitioner.pk], day, day)
    earliest = availability.earliest_start(None)
    while True:
        for appointment_type in rng.sample(types, len(types)):
            demand = availability.Demand.build(appointment_type=appointment_type)
            slots = [
                slot
                for slot in availability.compute_slots(
                    schedule, demand, day, day, earliest=earliest
                )
                if cursor is None or slot.start >= cursor
            ]
            if slots:
                break
        else:
            return created
        slot = slots[rng.randrange(min(4, len(slots)))]
        cursor = slot.end
        try:
            appointment = booking.book_appointment(
                location=location,
                practitioner=practitioner,
                patient=rng.choice(patients),
                start=slot.start,
                appointment_type=appointment_type,
                modality=rng.choice(sorted(slot.modalities)),
            )
        except BookingError:
            continue
        created += 1
        if rng.random() < 0.5:
            booking.change_status(appointment, AppointmentStatus.CONFIRMED)


def _seed_users(clinics: Iterable[Clinic], *, home: Clinic) -> dict[str, str]:
    group, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=["scheduling", "vendors"])
    )
    User = get_user_model()
    credentials = {}
    for username, (password, role, staff) in DEMO_USERS.items():
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = staff
        user.set_password(password)
        user.save()
        if staff:
            user.groups.add(group)
        for clinic in clinics:
            ClinicMembership.objects.update_or_create(
                user=user, clinic=clinic, defaults={"role": role}
            )
        UserPreferences.objects.update_or_create(user=user, defaults={"clinic": home})
        credentials[username] = password
    return credentials


def _seed_authenticators() -> dict[str, str]:
    """One TOTP device per staff demo user (kept across seeds): its otpauth:// URL."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from scheduling.signin import add_totp_device

    urls = {}
    for user in get_user_model().objects.filter(username__in=DEMO_USERS, is_staff=True):
        device = TOTPDevice.objects.filter(user=user).first() or add_totp_device(user=user)
        urls[user.get_username()] = device.config_url
    return urls


# -- PMS connections: the demo clinics talk to the simulators that `make run` starts --------

# The environment variables named here hold the simulators' credentials, and the simulators'
# host:port pairs are allowed by VENDOR_ALLOWED_HOSTS (both set by the Makefile's DEMO_ENV).
DENTALINK_URL = "http://127.0.0.1:8101/api/v1"
TREATSVET_URL = "http://127.0.0.1:8105/api/v1"
NEXHEALTH_URL = "http://127.0.0.1:8103"
# The imported demo clinic: its patients as the NexHealth simulator of `make run` generates
# them (the Procfile starts it with this many).
NEXHEALTH_DEMO_PATIENTS = 300
IMPORTED_CLINIC = "Downtown Dental"
DEMO_IDS = uuid.UUID("5b0f3c52-0c1e-4f53-9b7a-5d1ad0c1e9a1")


def connect_to_simulators(sonrisa: Clinic, lilas: Clinic) -> None:
    """Sonrisa books into Dentalink, Lilas into Treats.vet; Ñuñoa stays local."""
    from vendors.models import ExternalId, VendorConnection
    from vendors.simulators.treatsvet import stable_id

    dentalink, _ = VendorConnection.objects.update_or_create(
        clinic=sonrisa,
        vendor="dentalink",
        defaults={
            "base_url": DENTALINK_URL,
            "secrets": {"api_token": "PMS_DEMO_DENTALINK_TOKEN"},
            # Video visits and overbooking both go to the sobrecupo chair (7).
            "options": {"cancel_state_id": 1, "video_chair_id": 7, "overflow_chair_id": 7},
        },
    )
    dentists = {"Rojas": "1", "González": "2", "Muñoz": "3", "Soto": "4", "Pérez": "5"}
    branches = {"Providencia": "1", "Las Condes": "2"}
    chairs = {("Providencia", "Sillón 1"): "1", ("Providencia", "Sillón 2"): "2",
              ("Providencia", "Sillón 3"): "3", ("Las Condes", "Sillón 1"): "4",
              ("Las Condes", "Sillón 2"): "5"}  # fmt: skip
    mapping: list[tuple[Any, str, str]] = [
        *((p, dentists[p.family_name], "") for p in sonrisa.practitioners.all()),
        *((loc, branches[loc.name], "") for loc in sonrisa.locations.all()),
        *(
            (room, chairs[(room.location.name, room.name)], "")
            for room in Room.objects.filter(location__clinic=sonrisa, is_overflow=False)
            .select_related("location")
        ),
        *((patient, str(10_000 + index), "") for index, patient in
          enumerate(sonrisa.patients.order_by("pk"))),
    ]  # fmt: skip

    treatsvet, _ = VendorConnection.objects.update_or_create(
        clinic=lilas,
        vendor="treatsvet",
        defaults={
            "base_url": TREATSVET_URL,
            "secrets": {"api_key": "PMS_DEMO_TREATSVET_API_KEY"},
        },
    )
    treats_mapping: list[tuple[Any, str, str]] = [
        *(
            (vet, stable_id(f"vet:{vet.given_name} {vet.family_name}"), "")
            for vet in lilas.practitioners.all()
        ),
        *((kind, stable_id(f"type:{kind.name}"), "") for kind in lilas.appointment_types.all()),
    ]
    for connection, pairs in ((dentalink, mapping), (treatsvet, treats_mapping)):
        _map_external_ids(connection, pairs, ExternalId)
    map_animals_at_treatsvet(treatsvet)


def map_animals_at_treatsvet(connection: Any) -> None:
    """Map each animal of the connection's clinic, and its owner, to the IDs the Treats.vet
    simulator knows them by (Treats.vet registers no owner through its API); those already
    mapped are left as they are."""
    from vendors.models import ExternalId

    pairs: list[tuple[Any, str, str]] = []
    for animal in connection.clinic.patients.order_by("pk"):
        pairs.append((animal, str(uuid.uuid5(DEMO_IDS, f"animal:{animal.pk}")), ""))
        pairs.append(
            (animal, str(uuid.uuid5(DEMO_IDS, f"owner:{animal.guardian_phone}")), "guardian")
        )
    _map_external_ids(connection, pairs, ExternalId)


def _map_external_ids(connection: Any, pairs: list[tuple[Any, str, str]], model: Any) -> None:
    from django.contrib.contenttypes.models import ContentType

    existing = set(
        model.objects.filter(connection=connection).values_list(
            "content_type_id", "object_id", "role"
        )
    )
    new = []
    for record, external_id, role in pairs:
        content_type = ContentType.objects.get_for_model(record)
        if (content_type.pk, record.pk, role) not in existing:
            new.append(
                model(
                    connection=connection,
                    content_type=content_type,
                    object_id=record.pk,
                    role=role,
                    external_id=external_id,
                )
            )
    model.objects.bulk_create(new)


def import_demo_clinic() -> tuple[Clinic, list[str]]:
    """Downtown Dental arrives the way a real clinic does: imported from its PMS (a NexHealth
    simulator run here for the purpose, holding what the `make run` simulator on :8103 holds)
    with `vendors.importing`, its locations, dentists, operatories, types, hours and patients
    created with their NexHealth IDs. Returns the clinic and the import's report."""
    from django.conf import settings
    from django.test.utils import override_settings

    from vendors import importing
    from vendors.models import VendorConnection
    from vendors.simulators import nexhealth

    clinic, _ = Clinic.objects.update_or_create(
        slug="downtown",
        defaults={"name": IMPORTED_CLINIC, "kind": ClinicKind.DENTAL, "language": "en"},
    )
    connection, _ = VendorConnection.objects.update_or_create(
        clinic=clinic,
        vendor="nexhealth",
        defaults={
            "base_url": NEXHEALTH_URL,
            "secrets": {"api_key": "PMS_DEMO_NEXHEALTH_KEY"},
            # One location; new patients are registered there with its first dentist.
            "options": {
                "subdomain": nexhealth.SUBDOMAIN,
                "location_id": 101,
                "intake_provider_id": 201,
            },
        },
    )
    simulator = nexhealth.NexHealthSimulator().start()
    simulator.patient_count = NEXHEALTH_DEMO_PATIENTS
    here = simulator.url.split("//")[1]
    try:
        with override_settings(VENDOR_ALLOWED_HOSTS=[*settings.VENDOR_ALLOWED_HOSTS, here]):
            connection.base_url = simulator.url  # this run's copy; :8103 once saved
            report = importing.import_from_vendor(connection)
    finally:
        simulator.stop()
    return clinic, report.lines()
