"""The text of every message Turnero sends, in Spanish (Bolivia), and SMS encoding.

Templates are short Jinja2 strings written with proper accents (WhatsApp shows them).
An SMS with one character outside the GSM-7 alphabet (á, í, ó, ú, —, “…) is sent as
UCS-2, where one segment holds 70 characters instead of 160 — so SMS bodies are
transliterated to GSM-7 (ñ, é, ¿ and ¡ are GSM-7 and stay) and kept to one segment.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime

from jinja2 import Environment, StrictUndefined

from turnero.core import wait_words

# Keyed by template name (stored on each outbox row). Context values are plain strings
# and numbers prepared by the service (dates already in the office's time zone).
TEMPLATES: dict[str, str] = {
    "cita_confirmada": (
        "{{ institucion }}: cita {{ codigo }} confirmada el {{ dia }} {{ hora }} en {{ oficina }}."
        " Lleve sus requisitos{% if costo | default(none) %} y el pago ({{ costo }}){% endif %}."
        " Para anular responda CANCELAR."
    ),
    "cita_recordatorio": (
        "{{ institucion }}: recuerde su cita {{ codigo }} {{ cuando }} {{ dia }} {{ hora }} en {{ oficina }}."
        " Confirme con SI o anule con CANCELAR."
    ),
    "cita_cancelada": (
        "{{ institucion }}: su cita {{ codigo }} del {{ dia }} {{ hora }} en {{ oficina }} fue cancelada."
    ),
    "cita_reprogramada": (
        "{{ institucion }}: su cita {{ codigo }} cambió al {{ dia }} {{ hora }} en {{ oficina }}."
        " Para anular responda CANCELAR."
    ),
    "cita_asistencia_confirmada": (
        "{{ institucion }}: gracias, su asistencia a la cita {{ codigo }} del {{ dia }} {{ hora }} quedó confirmada."
    ),
    "cita_no_cancelable": (
        "{{ institucion }}: su cita {{ codigo }} del {{ dia }} {{ hora }} ya no puede cancelarse: pasó el plazo."
    ),
    "sin_cita": "Turnero: no encontramos una cita activa para este número.",
    "turno_cerca": (
        "{{ institucion }}: su turno {{ numero }} en {{ oficina }}"
        "{% if delante == 0 %} es el siguiente{% elif delante == 1 %}: falta 1 turno"
        "{% else %}: faltan {{ delante }} turnos{% endif %}"
        # "(entre 10 y 20 min)" from the estimate's range, else "(unos 14 min)": the
        # pages' words (core/wait_words.py); minimo/maximo may be absent (no range).
        "{% set espera = palabras_espera(minutos, minimo | default(none), maximo | default(none)) %}"
        "{% if espera %} ({{ espera }}){% endif %}."
        " Por favor vuelva a la sala de espera."
    ),
    "turno_llamado": "{{ institucion }}: es su turno {{ numero }}. Pase a la ventanilla {{ ventanilla }}.",
    # After a finished visit (issue 20): one SMS segment; the reply's digit is the rating.
    "encuesta_satisfaccion": (
        "{{ institucion }}: gracias por su visita, turno {{ numero }}. ¿Cómo le atendimos?"
        " Responda 1 a 5 (1 muy mal, 5 muy bien)."
    ),
    "resultado_examen": (
        "{{ institucion }}: examen teórico categoría {{ categoria }}:"
        " {% if aprobado %}APROBADO{% else %}REPROBADO{% endif %} ({{ correctas }}/{{ total }})."
        "{% if not aprobado %} Puede rendir un segundo intento.{% endif %}"
    ),
}

_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_env.globals["palabras_espera"] = wait_words.spoken
_compiled = {name: _env.from_string(text) for name, text in TEMPLATES.items()}


def render(template: str, context: dict, *, sms: bool, shorten: bool = True) -> str:
    """The message text; for SMS, transliterated to GSM-7 and kept to one segment where
    the office's name is what makes it longer (see `shorter_office_names`). KeyError for an
    unknown template."""
    text = " ".join(_compiled[template].render(**context).split())
    if not sms:
        return text
    text = to_gsm7(text)
    office = context.get("oficina")
    if shorten and isinstance(office, str) and sms_segments(text)[1] > 1:
        for shorter in shorter_office_names(office):
            candidate = to_gsm7(" ".join(_compiled[template].render(**{**context, "oficina": shorter}).split()))
            if sms_segments(candidate)[1] == 1:
                return candidate
    return text


def shorter_office_names(name: str):
    """Shorter forms of an office's name, each shorter than the last: its name before a
    dash or a bracket («SEGELIC Oficina Principal - Licencias de conducir» -> «SEGELIC
    Oficina Principal»), then cut at a word. A second SMS segment costs the office
    twice for every message; a full name is on the ticket and the cita page."""
    head = name
    for mark in (" — ", " – ", " - ", " ("):
        head = head.split(mark)[0]
    if head != name:
        yield head
    words = head.split()
    for n in range(len(words) - 1, 0, -1):
        yield " ".join(words[:n])


# ---------------------------------------------------------------- dates for people

_WEEKDAYS_ES = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")


def short_day(local: datetime) -> str:
    """`lun 24/11`: the weekday and day of a time already in the office's zone."""
    return f"{_WEEKDAYS_ES[local.weekday()]} {local:%d/%m}"


def short_time(local: datetime) -> str:
    return f"{local:%H:%M}"


# ---------------------------------------------------------------- GSM-7

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # two septets each (escape + char)
_REPLACEMENTS = {
    "—": "-", "–": "-", "‐": "-", "“": '"', "”": '"', "«": '"', "»": '"', "‘": "'", "’": "'",
    "…": "...", "°": "o", "º": "o", "ª": "a", "\u00a0": " ", "\t": " ",
}


def to_gsm7(text: str) -> str:
    """The closest text that GSM-7 can carry: accents it lacks are dropped (á -> a),
    typographic punctuation becomes ASCII, anything else becomes '?'."""
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def sms_segments(text: str) -> tuple[str, int]:
    """The encoding an SMS carrier uses for `text` and how many segments it takes."""
    if is_gsm7(text):
        septets = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)
