"""Demo data: La Paz offices of SEGIP, SEGELIC and DIGEMIG (from the offices' public documents).

Seeding is idempotent: what exists is left alone, what is missing is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from turnero.core.auth import hash_password
from turnero.core.models import Office, OfficeService, Role, Service, ServiceKind, User
from turnero.exam.service import seed_exam_demo
from turnero.queue.models import Desk, DeskService
from turnero.scheduler.models import BookingRule

DEMO_PASSWORD = "demo"
EXAM_OFFICE = "LPZ-SEGELIC"  # its theory-exam room: 20 computers (turnero/exam)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _hours(start: str = "07:30", end: str = "16:00", saturday: tuple[str, str] | None = None) -> dict:
    hours = {day: [[start, end]] for day in WEEKDAYS}
    if saturday:
        hours["sat"] = [list(saturday)]
    return hours


CI_DOCS = [
    "Cédula de identidad anterior (renovación) o certificado de nacimiento original (primera vez)",
    "Factura de luz, agua o gas del domicilio actual",
    "Menores de edad: presencia del padre, madre o tutor con su cédula vigente",
]

SERVICES = [
    # code, name, prefix, walk_in, bookable, kind, minutes, requirements, steps
    ("CI-RENOV", "Renovación de cédula de identidad", "C", True, True, ServiceKind.COUNTER, 7, CI_DOCS, []),
    ("CI-NUEVO", "Cédula de identidad — primera vez", "N", True, True, ServiceKind.COUNTER, 9, CI_DOCS,
     ["DESCARTE", "CAPTURA", "ENTREGA"]),
    ("CERT", "Certificación de datos de identidad", "D", True, False, ServiceKind.COUNTER, 4,
     ["Cédula de identidad vigente", "Comprobante de pago del valor del trámite"], []),
    ("SANEAMIENTO", "Saneamiento de datos (gabinete jurídico)", "S", True, True, ServiceKind.COUNTER, 15,
     ["Cédula de identidad", "Certificado de nacimiento original", "Documentos que respalden la corrección"], []),
    ("CIE", "Cédula de identidad de extranjero", "E", True, True, ServiceKind.COUNTER, 12,
     ["Pasaporte vigente", "Resolución de permanencia de DIGEMIG", "Certificado de antecedentes"], []),
    ("DESCARTE", "Revisión de requisitos (descarte)", "X", False, False, ServiceKind.COUNTER, 3, [], []),
    ("CAPTURA", "Captura biométrica y fotografía", "B", False, False, ServiceKind.COUNTER, 6, [], []),
    ("ENTREGA", "Entrega de documento", "G", False, False, ServiceKind.COUNTER, 2, [], []),
    ("LIC-NUEVA", "Licencia de conducir — emisión", "L", True, True, ServiceKind.COUNTER, 10,
     ["Cédula de identidad vigente", "Certificado médico y psicológico", "Certificado de escuela de conducción",
      "Examen teórico aprobado"], []),
    ("LIC-RENOV", "Licencia de conducir — renovación", "R", True, True, ServiceKind.COUNTER, 8,
     ["Cédula de identidad vigente", "Licencia anterior", "Certificado médico"], []),
    ("EXAM-TEORICO", "Examen teórico de conducción", "T", False, True, ServiceKind.EXAM, 30,
     ["Cédula de identidad vigente", "Categoría de licencia que solicita"], []),
    ("PASAPORTE", "Pasaporte electrónico", "P", True, True, ServiceKind.COUNTER, 10,
     ["Cédula de identidad vigente", "Pasaporte anterior (renovación)",
      "Menores de edad: autorización de ambos padres"], ["DESCARTE", "CAPTURA"]),
    ("PERMANENCIA", "Permanencia temporal o definitiva", "M", True, True, ServiceKind.COUNTER, 15,
     ["Pasaporte vigente", "Certificado de antecedentes", "Certificado médico", "Formulario de solicitud"], []),
]


@dataclass(frozen=True)
class DemoOffice:
    code: str
    name: str
    institution: str
    address: str
    hours: dict
    services: tuple[str, ...]
    # desk name -> {service code: weight}
    desks: dict[str, dict[str, int]]


CI_DESK = {"CI-RENOV": 1, "CERT": 2}
FLOW_DESKS = {
    "1": {"DESCARTE": 1, "CERT": 2},
    "2": {"DESCARTE": 1, "CI-RENOV": 2},
    "3": {"CI-RENOV": 1, "CAPTURA": 2},
    "4": {"CI-RENOV": 1, "CAPTURA": 2},
    "5": {"CI-RENOV": 1, "CERT": 2},
    "6": {"CAPTURA": 1, "CI-RENOV": 2},
    "7": {"CAPTURA": 1, "CIE": 2},
    "8": {"CIE": 1, "CI-RENOV": 2},
    "9": {"SANEAMIENTO": 1},
    "10": {"ENTREGA": 1, "CERT": 2},
    # The main office issues ~1,400 CIs on a peak day at 40-55 per operator: ~24 desks.
    **{str(n): {"CI-RENOV": 1, "CERT": 2} for n in range(11, 19)},
    **{str(n): {"CAPTURA": 1, "CI-RENOV": 2} for n in range(19, 22)},
    "22": {"CIE": 1, "CI-RENOV": 2},
    "23": {"SANEAMIENTO": 1, "CERT": 2},
    "24": {"ENTREGA": 1, "CI-RENOV": 2},
}

OFFICES = [
    DemoOffice(
        "LPZ-PRINCIPAL", "SEGIP La Paz — Oficina Principal", "SEGIP",
        "Calle Sucre esq. Juan de la Riva, Zona Central", _hours(saturday=("08:00", "12:00")),
        ("CI-RENOV", "CI-NUEVO", "CERT", "SANEAMIENTO", "CIE", "DESCARTE", "CAPTURA", "ENTREGA"),
        FLOW_DESKS,
    ),
    DemoOffice(
        "LPZ-TELEFERICO-ROJO", "SEGIP Teleférico Rojo", "SEGIP",
        "Estación Central de la Línea Roja, Av. Armentia", _hours(saturday=("08:00", "12:00")),
        ("CI-RENOV", "CI-NUEVO", "CERT", "DESCARTE", "CAPTURA", "ENTREGA"),
        {
            "1": {"DESCARTE": 1, "CERT": 2},
            "2": {"CI-RENOV": 1, "CAPTURA": 2},
            "3": {"CI-RENOV": 1, "CAPTURA": 2},
            "4": {"CAPTURA": 1, "CI-RENOV": 2},
            "5": {"CI-RENOV": 1},
            "6": {"ENTREGA": 1, "CERT": 2},
        },
    ),
    DemoOffice(
        "LPZ-ZONA-SUR", "SEGIP Zona Sur", "SEGIP",
        "Av. Ballivián esq. calle 15, Calacoto", _hours(),
        ("CI-RENOV", "CERT", "SANEAMIENTO"),
        {"1": CI_DESK, "2": CI_DESK, "3": {"CI-RENOV": 1}, "4": {"SANEAMIENTO": 1, "CERT": 2}},
    ),
    DemoOffice(
        "LPZ-SEGELIC", "SEGELIC La Paz — Licencias de conducir", "SEGELIC",
        "Av. Arce N° 2409, Sopocachi", _hours(),
        ("LIC-NUEVA", "LIC-RENOV", "EXAM-TEORICO"),
        {
            "1": {"LIC-NUEVA": 1, "LIC-RENOV": 2},
            "2": {"LIC-NUEVA": 1, "LIC-RENOV": 2},
            "3": {"LIC-RENOV": 1, "LIC-NUEVA": 2},
            "4": {"LIC-RENOV": 1},
            "5": {"LIC-NUEVA": 1},
        },
    ),
    DemoOffice(
        "LPZ-DIGEMIG", "DIGEMIG — Administración Departamental La Paz", "DIGEMIG",
        "Av. Camacho N° 1433, Zona Central", _hours(start="08:30", end="16:30"),
        ("PASAPORTE", "PERMANENCIA", "DESCARTE", "CAPTURA"),
        {
            "1": {"DESCARTE": 1},
            "2": {"CAPTURA": 1, "PASAPORTE": 2},
            "3": {"CAPTURA": 1, "PASAPORTE": 2},
            "4": {"PERMANENCIA": 1},
            "5": {"PERMANENCIA": 1, "DESCARTE": 2},
        },
    ),
]


# Citas: booking rules of the bookable counter services (slots are made on demand and by
# the scheduled job; places per slot default to the desks serving the service).
BOOKING_RULES = {
    "LPZ-PRINCIPAL": {"CI-RENOV": {}, "CI-NUEVO": {"slot_minutes": 20}, "SANEAMIENTO": {"slot_minutes": 30},
                      "CIE": {"slot_minutes": 20}},
    "LPZ-TELEFERICO-ROJO": {"CI-RENOV": {}, "CI-NUEVO": {"slot_minutes": 20}},
    "LPZ-ZONA-SUR": {"CI-RENOV": {}, "SANEAMIENTO": {"slot_minutes": 30}},
    "LPZ-SEGELIC": {"LIC-NUEVA": {"slot_minutes": 20}, "LIC-RENOV": {}},
    "LPZ-DIGEMIG": {"PASAPORTE": {"slot_minutes": 20}, "PERMANENCIA": {"slot_minutes": 30}},
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    office: str | None


def demo_users() -> list[DemoUser]:
    first = OFFICES[0]
    users = [DemoUser("admin", Role.ADMIN, None), DemoUser("supervisor", Role.SUPERVISOR, first.code)]
    users += [DemoUser(f"operador{i}", Role.OPERATOR, first.code) for i in range(1, len(first.desks) + 1)]
    users += [DemoUser("kiosko", Role.KIOSK, first.code), DemoUser("pantalla", Role.DISPLAY, first.code)]
    users.append(DemoUser("examinador", Role.SUPERVISOR, EXAM_OFFICE))  # proctor of the exam room
    return users


async def seed_demo(password: str = DEMO_PASSWORD) -> list[DemoUser]:
    """Create the demo catalogue, offices, desks and users that are missing."""
    async with in_transaction():
        services = {}
        for code, name, prefix, walk_in, bookable, kind, minutes, reqs, steps in SERVICES:
            services[code], _ = await Service.get_or_create(
                code=code,
                defaults=dict(
                    name=name, prefix=prefix, walk_in=walk_in, bookable=bookable, kind=kind,
                    expected_service_minutes=minutes, requirements=reqs, steps=steps,
                ),
            )
        offices = {}
        for spec in OFFICES:
            office, _ = await Office.get_or_create(
                code=spec.code,
                defaults=dict(
                    name=spec.name, institution=spec.institution, department="LP", city="La Paz",
                    address=spec.address, timezone="America/La_Paz", opening_hours=spec.hours,
                ),
            )
            offices[spec.code] = office
            for code in spec.services:
                await OfficeService.get_or_create(office=office, service=services[code])
            for desk_name, weights in spec.desks.items():
                desk, created = await Desk.get_or_create(office=office, name=desk_name)
                if created:
                    for code, weight in weights.items():
                        await DeskService.create(desk=desk, service=services[code], weight=weight)
        users = demo_users()
        password_hash = hash_password(password)
        for user in users:
            await User.get_or_create(
                username=user.username,
                defaults=dict(
                    role=user.role, password_hash=password_hash,
                    office=offices[user.office] if user.office else None,
                    full_name=user.username.capitalize(),
                ),
            )
        await seed_exam_demo(offices[EXAM_OFFICE])
        for office_code, rules in BOOKING_RULES.items():
            for code, rule in rules.items():
                await BookingRule.get_or_create(office=offices[office_code], service=services[code], defaults=rule)
    return users
