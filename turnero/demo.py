"""Demo data: La Paz offices of SEGIP, SEGELIC and DIGEMIG (from the offices' public documents).

DEMO DATA, not an official directory: the network is the seeds' (SEGIP's 2020 report):
the 11 CI offices of La Paz, the 7 that issue driving licences (Principal — as a licence
section of its own, LPZ-LIC-PRINCIPAL —, SEGELIC La Paz, Zona Sur, SEGELIC El Alto,
Achacachi, Viacha, Caranavi), the 6 that do saneamiento
(Principal, Zona Sur, Centro, Teleférico Rojo, Santa Rosa, Caranavi), DIGEMIG La Paz and
one SEGIP mobile brigade whose stops are dated from the day it is seeded. Desks, weights,
hours and addresses are illustrative; where the sources give no address the office says
so (NO_ADDRESS) rather than carry one that looks official.

Seeding is idempotent: what exists is left alone, what is missing is created (and the
brigade gets new stops when all of its stops are past).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import hash_password
from turnero.core.models import BrigadeStop, Office, OfficeKind, OfficeService, Role, Service, ServiceKind, User
from turnero.exam.demo import seed_exam_demo
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


CI_HOME = "Factura de luz, agua o gas del domicilio actual"
CI_MINORS = "Menores de edad: presencia del padre, madre o tutor con su cédula vigente"
CI_DOCS = ["Cédula de identidad anterior", CI_HOME, CI_MINORS]

SERVICES = [
    # code, name, prefix, walk_in, bookable, kind, minutes, requirements, steps
    ("CI-RENOV", "Renovación de cédula de identidad", "C", True, True, ServiceKind.COUNTER, 7, CI_DOCS, []),
    ("CI-NUEVO", "Cédula de identidad — primera vez", "N", True, True, ServiceKind.COUNTER, 9,
     ["Certificado de nacimiento original", CI_HOME, CI_MINORS], ["DESCARTE", "CAPTURA", "ENTREGA"]),
    ("CI-REPOSICION", "Reposición de cédula de identidad (duplicado)", "K", True, True, ServiceKind.COUNTER, 7,
     ["Denuncia de pérdida o robo, o la cédula deteriorada", "Comprobante de pago de la reposición", CI_MINORS], []),
    ("CI-MENOR", "Cédula de identidad de menores de 12 años", "J", True, True, ServiceKind.COUNTER, 8,
     ["Certificado de nacimiento original del menor", "Presencia del padre, madre o tutor con su cédula vigente",
      "Tutor: resolución judicial de tutela"], []),
    ("CERT", "Certificación de datos de identidad", "D", True, False, ServiceKind.COUNTER, 4,
     ["Cédula de identidad vigente", "Comprobante de pago del valor del trámite"], []),
    ("SANEAMIENTO", "Saneamiento de datos (errores de transcripción)", "S", True,
     True, ServiceKind.COUNTER, 15,
     ["Cédula de identidad", "Certificado de nacimiento original", "Documentos que respalden la corrección"], []),
    # With a resolución administrativa: deceased persons, a change of name or of the sex on record, others.
    ("SANEAMIENTO-RA", "Saneamiento con resolución administrativa", "SR", True, True, ServiceKind.COUNTER, 20,
     ["Cédula de identidad", "Resolución administrativa o judicial que ordena la corrección",
      "Certificado de nacimiento (o de defunción) original"], []),
    ("CIE", "Cédula de identidad de extranjero", "E", True, True, ServiceKind.COUNTER, 12,
     ["Pasaporte vigente", "Resolución de permanencia de DIGEMIG", "Certificado de antecedentes",
      "Comprobante de pago"], []),
    ("CIE-RENOV", "Renovación de cédula de extranjero", "F", True, True, ServiceKind.COUNTER, 10,
     ["Cédula de identidad de extranjero anterior", "Resolución de permanencia vigente", "Comprobante de pago"], []),
    ("CIE-REFUGIO", "Cédula de extranjero para refugiados (gratuita)", "H", True, True,
     ServiceKind.COUNTER, 12,
     ["Resolución de la CONARE que reconoce la condición de refugiado o asilado",
      "Documento de viaje o de identidad que tenga"], []),
    ("DESCARTE", "Revisión de requisitos (descarte)", "X", False, False, ServiceKind.COUNTER, 3,
     ["Los requisitos del trámite, en original", "El comprobante de pago, si el trámite tiene costo"], []),
    ("CAPTURA", "Captura biométrica y fotografía", "B", False, False, ServiceKind.COUNTER, 6,
     ["Haber aprobado la revisión de requisitos (descarte)", "Sin gorra, lentes oscuros ni accesorios en el rostro"],
     []),
    ("ENTREGA", "Entrega de documento", "G", False, False, ServiceKind.COUNTER, 2,
     ["El ticket del trámite", "Presencia de la persona titular (o su tutor)"], []),
    ("LIC-NUEVA", "Licencia de conducir — emisión", "L", True, True, ServiceKind.COUNTER, 10,
     ["Cédula de identidad vigente", "Certificado médico y psicológico", "Certificado de escuela de conducción",
      "Examen teórico aprobado"], []),
    ("LIC-RENOV", "Licencia de conducir — renovación", "R", True, True, ServiceKind.COUNTER, 8,
     ["Cédula de identidad vigente", "Licencia anterior", "Certificado médico"], []),
    ("LIC-DUPLICADO", "Licencia de conducir — duplicado", "U", True, True, ServiceKind.COUNTER, 6,
     ["Cédula de identidad vigente", "Denuncia de pérdida o robo, o la licencia deteriorada"], []),
    ("LIC-CANJE", "Licencia de conducir — canje de licencia peruana", "W", True, True, ServiceKind.COUNTER, 10,
     ["Licencia de conducir peruana vigente", "Documento de identidad", "Certificado médico"], []),
    ("LIC-CORTESIA", "Licencia de cortesía (cuerpo diplomático)", "Y", True, True, ServiceKind.COUNTER, 8,
     ["Pasaporte diplomático u oficial", "Nota de la Cancillería", "Licencia de conducir del país de origen"], []),
    ("LIC-CATEGORIA", "Licencia de conducir — cambio o aumento de categoría", "Z", True, True, ServiceKind.COUNTER,
     10, ["Cédula de identidad vigente", "Licencia actual", "Certificado médico y psicológico",
          "Examen teórico aprobado para la nueva categoría"], []),
    ("EXAM-TEORICO", "Examen teórico de conducción", "T", False, True, ServiceKind.EXAM, 30,
     ["Cédula de identidad vigente", "Categoría de licencia que solicita"], []),
    # The licence path after the theory exam (exam/licence_path.py): both by cita only.
    ("LIC-EVAL-MEDICA", "Evaluación médica y psicológica", "EM", False, True, ServiceKind.COUNTER, 20,
     ["Cédula de identidad vigente", "Lentes o audífonos, si los usa"], []),
    ("LIC-PRACTICO", "Examen práctico de conducción", "EP", False, True, ServiceKind.PRACTICAL, 30,
     ["Cédula de identidad vigente", "Examen teórico aprobado de la misma categoría (vale 90 días)",
      "Vehículo de la categoría en condiciones, con su documentación (o el de la escuela de conducción)"], []),
    ("PASAPORTE", "Pasaporte electrónico", "P", True, True, ServiceKind.COUNTER, 10,
     ["Cédula de identidad vigente", "Pasaporte anterior (renovación)",
      "Menores de edad: autorización de ambos padres"], ["DESCARTE", "CAPTURA"]),
    ("PERMANENCIA", "Permanencia temporal o definitiva", "M", True, True, ServiceKind.COUNTER, 15,
     ["Pasaporte vigente", "Certificado de antecedentes", "Certificado médico", "Formulario de solicitud"], []),
    ("VISA", "Visas", "V", True, True, ServiceKind.COUNTER, 12,
     ["Pasaporte vigente", "Formulario de solicitud", "Documentos del motivo del viaje"], []),
    ("NATURALIZACION", "Naturalización", "A", True, True, ServiceKind.COUNTER, 20,
     ["Pasaporte y cédula de identidad de extranjero vigentes", "Permanencia definitiva",
      "Certificado de antecedentes", "Formulario de solicitud"], []),
    ("CERT-APOSTILLA", "Certificaciones migratorias y apostillado", "AP", True, True, ServiceKind.COUNTER, 6,
     ["Documento de identidad", "Documento a certificar o apostillar"], []),
    ("DOC-VIAJE-REFUGIO", "Documento de viaje para personas refugiadas y apátridas", "DV", True, True,
     ServiceKind.COUNTER, 12, ["Cédula de identidad de extranjero", "Resolución de la CONARE"], []),
    ("TVF", "Tarjeta vecinal fronteriza Bolivia–Argentina (TVF)", "TV", True, False, ServiceKind.COUNTER, 6,
     ["Cédula de identidad vigente", "Domicilio en la zona de frontera"], []),
    ("DEF", "Documento especial fronterizo Bolivia–Brasil (DEF)", "DF", True, False, ServiceKind.COUNTER, 6,
     ["Cédula de identidad vigente", "Domicilio en la zona de frontera"], []),
    ("LIBRETA-TRIPULANTE", "Libreta de tripulante terrestre", "LT", True, False, ServiceKind.COUNTER, 8,
     ["Cédula de identidad vigente", "Licencia de conducir profesional", "Certificación de la empresa de transporte"],
     []),
    ("CARTA-INVITACION", "Carta de invitación para extranjeros", "CV", True, False, ServiceKind.COUNTER, 6,
     ["Cédula de identidad de quien invita", "Datos del pasaporte de la persona invitada"], []),
    ("CONDONACION", "Condonación de multas migratorias", "CM", True, False, ServiceKind.COUNTER, 10,
     ["Pasaporte o cédula de identidad de extranjero", "Nota de solicitud con el motivo"], []),
]

# What each trámite costs and how it is paid, who is exempt, and the documents it may
# be booked with. The seeds give two fees only (derived from the SEGIP's 2020 report);
# every other figure is left out on purpose and says so: a number that looks official
# but is not would send people to the bank with the wrong amount.
NO_FIGURE = "Monto no publicado en las fuentes de esta demostración: consúltelo en la oficina. "
SEGIP_PAYS = "Se paga antes, en Banco Unión (boleta) o por UNIMOVIL; presente el comprobante en el descarte."
DIGEMIG_PAYS = "Se paga antes, en Banco Unión; presente el comprobante en el descarte."
FEES = {
    "CIE": (548.0, "Referencia: lo recaudado por cédulas de extranjero en 2020 entre las emitidas "
                   "(≈ Bs 548). Confirme el monto vigente. " + SEGIP_PAYS),
    "CIE-RENOV": (548.0, "Referencia: el promedio de 2020 de la cédula de extranjero (≈ Bs 548). "
                         "Confirme el monto vigente. " + SEGIP_PAYS),
    "CIE-REFUGIO": (0.0, "Gratuita para personas refugiadas, asiladas o con permanencia humanitaria."),
    "LIC-CORTESIA": (50.0, "Referencia: 125 licencias de cortesía por Bs 6.250 en 2020 (≈ Bs 50). " + SEGIP_PAYS),
    "DESCARTE": (0.0, "Paso de otro trámite: sin costo propio."),
    "CAPTURA": (0.0, "Paso de otro trámite: sin costo propio."),
    "ENTREGA": (0.0, "Paso de otro trámite: sin costo propio."),
    "EXAM-TEORICO": (None, NO_FIGURE + "El examen es parte del trámite de licencia."),
    "LIC-EVAL-MEDICA": (None, NO_FIGURE + "La evaluación es parte del trámite de licencia."),
    "LIC-PRACTICO": (None, NO_FIGURE + "El examen es parte del trámite de licencia."),
}
EXEMPTIONS = {
    "CIE": ["Personas refugiadas, asiladas o con permanencia humanitaria: trámite gratuito (resolución de la CONARE)"],
    "CIE-RENOV": ["Personas refugiadas, asiladas o con permanencia humanitaria: trámite gratuito "
                  "(resolución de la CONARE)"],
}
CI_ONLY, FOREIGNERS, ANYONE = ["ci"], ["cie", "passport"], ["ci", "cie", "passport"]
DOCUMENTS = {
    "CI-RENOV": CI_ONLY, "CI-NUEVO": CI_ONLY, "CI-REPOSICION": CI_ONLY, "CI-MENOR": CI_ONLY, "CERT": CI_ONLY,
    "SANEAMIENTO": CI_ONLY, "SANEAMIENTO-RA": CI_ONLY, "CIE": FOREIGNERS, "CIE-RENOV": ["cie"],
    "CIE-REFUGIO": FOREIGNERS, "LIC-NUEVA": ["ci", "cie"], "LIC-RENOV": ["ci", "cie"],
    "LIC-DUPLICADO": ["ci", "cie"], "LIC-CANJE": ANYONE, "LIC-CORTESIA": ["passport"],
    "LIC-CATEGORIA": ["ci", "cie"], "EXAM-TEORICO": ["ci", "cie"], "PASAPORTE": CI_ONLY,
    "LIC-EVAL-MEDICA": ["ci", "cie"], "LIC-PRACTICO": ["ci", "cie"],
    "PERMANENCIA": FOREIGNERS, "VISA": FOREIGNERS, "NATURALIZACION": FOREIGNERS, "CERT-APOSTILLA": ANYONE,
    "DOC-VIAJE-REFUGIO": ["cie"], "TVF": CI_ONLY, "DEF": CI_ONLY, "LIBRETA-TRIPULANTE": CI_ONLY,
    "CARTA-INVITACION": ["ci", "cie"], "CONDONACION": FOREIGNERS,
}
DIGEMIG_SERVICES = {"PASAPORTE", "PERMANENCIA", "VISA", "NATURALIZACION", "CERT-APOSTILLA", "DOC-VIAJE-REFUGIO",
                    "TVF", "DEF", "LIBRETA-TRIPULANTE", "CARTA-INVITACION", "CONDONACION"}


def catalogue_extras(code: str) -> dict:
    """The fee, exemptions and documents of a demo trámite (Service fields)."""
    fee, note = FEES.get(code, (None, NO_FIGURE + (DIGEMIG_PAYS if code in DIGEMIG_SERVICES else SEGIP_PAYS)))
    return {"fee_bs": fee, "fee_note": note, "exemptions": EXEMPTIONS.get(code, []), "documents": DOCUMENTS.get(code, [])}


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
    city: str = "La Paz"
    kind: OfficeKind = OfficeKind.FIXED


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
# Where the seeds give no street address: said so, never one that looks official.
NO_ADDRESS = "Dirección no publicada en las fuentes de esta demostración"
LIC_DESK = {"LIC-RENOV": 1, "LIC-DUPLICADO": 2}

OFFICES = [
    DemoOffice(
        "LPZ-PRINCIPAL", "SEGIP La Paz — Oficina Principal", "SEGIP",
        "Calle Sucre esq. Juan de la Riva, Zona Central", _hours(saturday=("08:00", "12:00")),
        # (Its lobby screen shows one card per line: eight stay legible across the room.)
        ("CI-RENOV", "CI-NUEVO", "CERT", "SANEAMIENTO", "CIE", "DESCARTE", "CAPTURA", "ENTREGA"),
        FLOW_DESKS,
    ),
    DemoOffice(
        # The main office is one of the seeds' 7 licence offices (its licence figures start
        # late in 2020). Its licence counters are a section of their own here, with their own
        # kiosk line and screen: the CI lobby's screen keeps its eight legible lines.
        "LPZ-LIC-PRINCIPAL", "SEGELIC Oficina Principal — Licencias de conducir", "SEGELIC",
        "Calle Sucre esq. Juan de la Riva, Zona Central", _hours(),
        ("LIC-RENOV", "LIC-DUPLICADO"),
        {"1": LIC_DESK, "2": {"LIC-DUPLICADO": 1, "LIC-RENOV": 2}},
    ),
    DemoOffice(
        "LPZ-TELEFERICO-ROJO", "SEGIP Teleférico Rojo", "SEGIP",
        "Estación Central de la Línea Roja, Av. Armentia", _hours(saturday=("08:00", "12:00")),
        ("CI-RENOV", "CI-NUEVO", "CI-REPOSICION", "CERT", "SANEAMIENTO", "DESCARTE", "CAPTURA", "ENTREGA"),
        {
            "1": {"DESCARTE": 1, "CERT": 2},
            "2": {"CI-RENOV": 1, "CAPTURA": 2},
            "3": {"CI-RENOV": 1, "CAPTURA": 2},
            "4": {"CAPTURA": 1, "CI-RENOV": 2},
            "5": {"CI-RENOV": 1, "CI-REPOSICION": 2},
            "6": {"ENTREGA": 1, "CERT": 2, "SANEAMIENTO": 2},
        },
    ),
    DemoOffice(
        "LPZ-ZONA-SUR", "SEGIP Zona Sur", "SEGIP",
        "Av. Ballivián esq. calle 15, Calacoto", _hours(),
        ("CI-RENOV", "CI-REPOSICION", "CI-MENOR", "CERT", "SANEAMIENTO", "SANEAMIENTO-RA", "CIE-RENOV",
         "CIE-REFUGIO", "LIC-RENOV"),
        {"1": CI_DESK, "2": {**CI_DESK, "CIE-RENOV": 2, "CIE-REFUGIO": 2},
         "3": {"CI-RENOV": 1, "CI-REPOSICION": 2, "CI-MENOR": 2},
         "4": {"SANEAMIENTO": 1, "SANEAMIENTO-RA": 2, "CERT": 2},
         "L1": {"LIC-RENOV": 1}},  # one of the seeds' 7 licence offices
    ),
    DemoOffice(
        "LPZ-SEGELIC", "SEGELIC La Paz — Licencias de conducir", "SEGELIC",
        "Av. Arce N° 2409, Sopocachi", _hours(),
        ("LIC-NUEVA", "LIC-RENOV", "LIC-DUPLICADO", "LIC-CANJE", "LIC-CORTESIA", "LIC-CATEGORIA", "EXAM-TEORICO",
         "LIC-EVAL-MEDICA", "LIC-PRACTICO",
         "CI-RENOV", "CERT"),  # (one of the 11 CI offices too: 30,698 CIs in 2020)
        {
            "1": {"LIC-NUEVA": 1, "LIC-RENOV": 2, "LIC-CATEGORIA": 2},
            "2": {"LIC-NUEVA": 1, "LIC-RENOV": 2, "LIC-CANJE": 2},
            "3": {"LIC-RENOV": 1, "LIC-NUEVA": 2, "LIC-DUPLICADO": 2},
            "4": {"LIC-RENOV": 1, "LIC-DUPLICADO": 2, "LIC-CORTESIA": 2},
            "5": {"LIC-NUEVA": 1, "LIC-CATEGORIA": 2},
            "6": {"CI-RENOV": 1, "CERT": 2},
            "MED-1": {"LIC-EVAL-MEDICA": 1}, "MED-2": {"LIC-EVAL-MEDICA": 1},  # consultorios
            "PISTA": {"LIC-PRACTICO": 1},  # the practical test's examiner
        },
    ),
    DemoOffice(
        "LPZ-DIGEMIG", "DIGEMIG — Administración Departamental La Paz", "DIGEMIG",
        "Av. Camacho N° 1433, Zona Central", _hours(start="08:30", end="16:30"),
        ("PASAPORTE", "PERMANENCIA", "VISA", "NATURALIZACION", "CERT-APOSTILLA", "DOC-VIAJE-REFUGIO",
         "LIBRETA-TRIPULANTE", "CARTA-INVITACION", "CONDONACION", "DESCARTE", "CAPTURA"),
        {
            "1": {"DESCARTE": 1, "CERT-APOSTILLA": 2, "CARTA-INVITACION": 2},
            "2": {"CAPTURA": 1, "PASAPORTE": 2},
            "3": {"CAPTURA": 1, "PASAPORTE": 2, "LIBRETA-TRIPULANTE": 2},
            "4": {"PERMANENCIA": 1, "VISA": 2, "CONDONACION": 2},
            "5": {"PERMANENCIA": 1, "NATURALIZACION": 2, "DOC-VIAJE-REFUGIO": 2, "DESCARTE": 2},
        },
    ),
    # The rest of the seeds' 11 La Paz CI offices (SEGIP 2020 report: yearly CIs in brackets).
    DemoOffice(
        "LPZ-SANTA-ROSA", "SEGIP Santa Rosa", "SEGIP", NO_ADDRESS, _hours(),  # 50,236
        ("CI-RENOV", "CI-REPOSICION", "CERT", "SANEAMIENTO"),
        {"1": {"CI-RENOV": 1, "CI-REPOSICION": 2}, "2": {"CI-REPOSICION": 1, "CI-RENOV": 2, "CERT": 2},
         "3": {"SANEAMIENTO": 1, "CERT": 2}},
    ),
    DemoOffice(
        "LPZ-PACAJES", "SEGIP Pacajes", "SEGIP", NO_ADDRESS, _hours(),  # 46,975
        ("CI-RENOV", "CI-REPOSICION", "CERT"),
        {"1": {"CI-RENOV": 1, "CERT": 2}, "2": {"CI-RENOV": 1, "CI-REPOSICION": 2},
         "3": {"CI-REPOSICION": 1, "CI-RENOV": 2}},
    ),
    DemoOffice(
        "LPZ-CARANAVI", "SEGIP Caranavi", "SEGIP", NO_ADDRESS, _hours(),  # 18,493
        ("CI-RENOV", "CI-REPOSICION", "CERT", "SANEAMIENTO", "LIC-RENOV", "LIC-DUPLICADO"),
        {"1": {"CI-RENOV": 1, "CI-REPOSICION": 2, "CERT": 2}, "2": {"SANEAMIENTO": 1, "CI-RENOV": 2},
         "3": LIC_DESK},
        city="Caranavi",
    ),
    DemoOffice(
        "LPZ-VIACHA", "SEGIP Viacha", "SEGIP", NO_ADDRESS, _hours(),  # 15,807
        ("CI-RENOV", "CI-REPOSICION", "CERT", "LIC-RENOV", "LIC-DUPLICADO"),
        {"1": {"CI-RENOV": 1, "CI-REPOSICION": 2, "CERT": 2}, "2": {**LIC_DESK, "CI-RENOV": 3}},
        city="Viacha",
    ),
    DemoOffice(
        "LPZ-ACHACACHI", "SEGIP Achacachi", "SEGIP", NO_ADDRESS, _hours(),  # 14,436
        ("CI-RENOV", "CI-REPOSICION", "CERT", "LIC-RENOV", "LIC-DUPLICADO"),
        {"1": {"CI-RENOV": 1, "CI-REPOSICION": 2, "CERT": 2}, "2": {**LIC_DESK, "CI-RENOV": 3}},
        city="Achacachi",
    ),
    DemoOffice(
        "LPZ-SEGELIC-EL-ALTO", "SEGELIC El Alto — Licencias de conducir", "SEGELIC", NO_ADDRESS, _hours(),  # 11,580
        ("LIC-NUEVA", "LIC-RENOV", "LIC-DUPLICADO", "LIC-CATEGORIA", "CI-RENOV", "CERT"),
        {"1": {"LIC-NUEVA": 1, "LIC-RENOV": 2, "LIC-CATEGORIA": 2}, "2": {"LIC-RENOV": 1, "LIC-DUPLICADO": 2},
         "3": {"LIC-RENOV": 1, "LIC-NUEVA": 2}, "4": {"CI-RENOV": 1, "CERT": 2}},
        city="El Alto",
    ),
    DemoOffice(
        # The seeds place it by the Celeste line's Prado station; no street address is given.
        "LPZ-CENTRO-CELESTE", "SEGIP Centro — Teleférico Celeste", "SEGIP",
        "Teleférico Celeste, zona El Prado (" + NO_ADDRESS.lower() + ")", _hours(),  # 8,547
        ("CI-RENOV", "CERT", "SANEAMIENTO"),
        {"1": {"CI-RENOV": 1, "CERT": 2}, "2": {"SANEAMIENTO": 1, "CI-RENOV": 2}},
    ),
    # A SEGIP mobile brigade (the seeds count 28 and 13–14 semi-permanent offices rotating
    # through 100 municipalities): open only on the days of its stops (DEMO_STOPS).
    DemoOffice(
        "LPZ-BRIGADA-1", "SEGIP Brigada Móvil 1 La Paz", "SEGIP",
        "Itinerante: atiende en sus paradas, solo los días de cada una", {},
        ("CI-RENOV", "CI-REPOSICION", "CERT"),
        {"1": {"CI-RENOV": 1, "CI-REPOSICION": 2}, "2": {"CI-REPOSICION": 1, "CI-RENOV": 2, "CERT": 2}},
        kind=OfficeKind.BRIGADE,
    ),
]
CI_OFFICES = ("LPZ-PRINCIPAL", "LPZ-TELEFERICO-ROJO", "LPZ-SANTA-ROSA", "LPZ-PACAJES", "LPZ-ZONA-SUR",
              "LPZ-SEGELIC", "LPZ-CARANAVI", "LPZ-VIACHA", "LPZ-ACHACACHI", "LPZ-SEGELIC-EL-ALTO",
              "LPZ-CENTRO-CELESTE")
LICENCE_OFFICES = ("LPZ-LIC-PRINCIPAL", "LPZ-SEGELIC", "LPZ-ZONA-SUR", "LPZ-SEGELIC-EL-ALTO", "LPZ-ACHACACHI",
                   "LPZ-VIACHA", "LPZ-CARANAVI")
BRIGADE = "LPZ-BRIGADA-1"
# Its stops, in La Paz municipalities the seeds name for semi-permanent offices and new
# sites (Huarina; Coroico and Chulumani, Yungas): days from the seeding day, so that a
# fresh demo always has stops ahead. (first day, last day, municipality)
DEMO_STOPS = ((2, 4, "Huarina"), (9, 12, "Coroico"), (16, 18, "Chulumani"))
DEMO_STOP_NOTE = "Parada de demostración: fechas y lugar ilustrativos."


# Citas: booking rules of the bookable counter services (slots are made on demand and by
# the scheduled job; places per slot default to the desks serving the service).
BOOKING_RULES = {
    "LPZ-PRINCIPAL": {"CI-RENOV": {}, "CI-NUEVO": {"slot_minutes": 20}, "SANEAMIENTO": {"slot_minutes": 30},
                      "CIE": {"slot_minutes": 20}},
    "LPZ-TELEFERICO-ROJO": {"CI-RENOV": {}, "CI-NUEVO": {"slot_minutes": 20}},
    "LPZ-ZONA-SUR": {"CI-RENOV": {}, "SANEAMIENTO": {"slot_minutes": 30}},
    "LPZ-SEGELIC": {"LIC-NUEVA": {"slot_minutes": 20}, "LIC-RENOV": {},
                    # Demo rules of the licence path: 2 consultorios; 2 vehicles on the track.
                    "LIC-EVAL-MEDICA": {"slot_minutes": 20, "capacity": 2},
                    "LIC-PRACTICO": {"slot_minutes": 30, "capacity": 2, "min_notice_minutes": 24 * 60}},
    "LPZ-DIGEMIG": {"PASAPORTE": {"slot_minutes": 20}, "PERMANENCIA": {"slot_minutes": 30}},
    "LPZ-SEGELIC-EL-ALTO": {"LIC-RENOV": {}},
    BRIGADE: {"CI-RENOV": {}},  # slots only on the days of its stops
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


async def _seed_brigade_stops(office: Office) -> None:
    """The demo brigade's stops, from the seeding day on; again when all are past."""
    today = clock.local_day(clock.now(), office.timezone)
    if await BrigadeStop.exists(office_id=office.id, ends_on__gte=today):
        return
    for first, last, municipality in DEMO_STOPS:
        await BrigadeStop.create(
            office=office, municipality=municipality, department="LP", address=NO_ADDRESS,
            starts_on=today + timedelta(days=first), ends_on=today + timedelta(days=last),
            hours=[["08:00", "12:30"], ["14:00", "17:00"]], note=DEMO_STOP_NOTE,
        )


async def seed_demo(password: str = DEMO_PASSWORD) -> list[DemoUser]:
    """Create the demo catalogue, offices, desks and users that are missing."""
    async with in_transaction():
        services = {}
        for code, name, prefix, walk_in, bookable, kind, minutes, reqs, steps in SERVICES:
            services[code], _ = await Service.get_or_create(
                code=code,
                defaults=dict(
                    name=name, prefix=prefix, walk_in=walk_in, bookable=bookable, kind=kind,
                    expected_service_minutes=minutes, requirements=reqs, steps=steps, **catalogue_extras(code),
                ),
            )
        offices = {}
        for spec in OFFICES:
            office, _ = await Office.get_or_create(
                code=spec.code,
                defaults=dict(
                    name=spec.name, institution=spec.institution, department="LP", city=spec.city,
                    address=spec.address, timezone="America/La_Paz", opening_hours=spec.hours, kind=spec.kind,
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
        await _seed_brigade_stops(offices[BRIGADE])
        for office_code, rules in BOOKING_RULES.items():
            for code, rule in rules.items():
                await BookingRule.get_or_create(office=offices[office_code], service=services[code], defaults=rule)
    return users
