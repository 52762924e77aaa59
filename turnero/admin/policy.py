"""Pure validation rules of the configuration (no database): codes, hours, time zones.

Each function returns the cleaned value or raises ValueError with a Spanish message,
so pydantic validators and the config import share one wording.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_ES = {"mon": "lunes", "tue": "martes", "wed": "miércoles", "thu": "jueves", "fri": "viernes",
               "sat": "sábado", "sun": "domingo"}
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
_PREFIX = re.compile(r"^[A-Z]{1,3}$")
_DESK = re.compile(r"^[A-Za-z0-9ÁÉÍÓÚÑáéíóúñ][A-Za-z0-9ÁÉÍÓÚÑáéíóúñ .-]{0,31}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_DESK_WEIGHT = 9


def code(value: str, what: str = "El código") -> str:
    value = value.strip().upper()
    if not _CODE.match(value):
        raise ValueError(f"{what} debe tener de 2 a 32 caracteres: letras, dígitos y guiones (p. ej. LPZ-PRINCIPAL)")
    return value


def prefix(value: str) -> str:
    value = value.strip().upper()
    if not _PREFIX.match(value):
        raise ValueError("el prefijo debe ser de 1 a 3 letras sin tilde (p. ej. C)")
    return value


def desk_name(value: str) -> str:
    value = value.strip()
    if not _DESK.match(value):
        raise ValueError("el nombre de la ventanilla admite hasta 32 letras, dígitos, espacios o guiones (p. ej. 5)")
    return value


def username(value: str) -> str:
    value = value.strip().lower()
    if not _USERNAME.match(value):
        raise ValueError("el usuario debe tener de 3 a 64 caracteres: minúsculas, dígitos, punto, guion o guion bajo")
    return value


def timezone(value: str) -> str:
    value = value.strip()
    if value not in _zones():
        raise ValueError(f"zona horaria desconocida: {value!r} (p. ej. America/La_Paz)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"zona horaria desconocida: {value!r} (p. ej. America/La_Paz)") from None
    return value


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


def opening_hours(value: dict) -> dict[str, list[list[str]]]:
    """{"mon": [["07:30", "12:00"], ["14:00", "18:00"]], …}: known days, HH:MM times,
    each interval starting before it ends, intervals of a day not overlapping.
    A day left out (or with no intervals) is closed."""
    cleaned: dict[str, list[list[str]]] = {}
    for day, intervals in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"día desconocido {day!r}: use {', '.join(WEEKDAYS)}")
        spans = day_spans(intervals, WEEKDAYS_ES[day])
        if spans:
            cleaned[day] = spans
    return cleaned


def day_spans(intervals: list, name: str = "horario") -> list[list[str]]:
    """One day's [[apertura, cierre], …]: HH:MM, each opening before its closing, not
    overlapping; sorted."""
    spans = []
    for interval in intervals:
        if len(interval) != 2:
            raise ValueError(f"{name}: cada horario es un par [apertura, cierre]")
        start, end = interval
        for t in (start, end):
            if not _HHMM.match(t):
                raise ValueError(f"{name}: la hora {t!r} no tiene el formato HH:MM (00:00–23:59)")
        if start >= end:
            raise ValueError(f"{name}: la apertura {start} debe ser anterior al cierre {end}")
        spans.append([start, end])
    spans.sort()
    for (_s1, e1), (s2, _e2) in zip(spans, spans[1:]):
        if s2 < e1:
            raise ValueError(f"{name}: los horarios se superponen ({s2} antes de {e1})")
    return spans


def desk_weights(value: dict[str, int]) -> dict[str, int]:
    """Service code -> weight (1 primary, 2… fallbacks)."""
    cleaned = {}
    for service_code, weight in value.items():
        if not 1 <= weight <= MAX_DESK_WEIGHT:
            raise ValueError(f"el peso de {service_code} debe estar entre 1 (principal) y {MAX_DESK_WEIGHT}")
        cleaned[code(service_code, "El código de trámite")] = weight
    return cleaned
