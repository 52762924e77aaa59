"""Days an office does not open: Bolivian national (and departmental) holidays from the
`holidays` library, plus closures stored in the database.

The library computes the movable feasts from Easter (Carnaval Monday and Tuesday,
Viernes Santo, Corpus Christi) and the fixed ones (1 Jan, 22 Jan Estado Plurinacional,
1 May, 21 Jun Año Nuevo Andino y Amazónico, 6 Aug, 2 Nov, 25 Dec and, as decreed, their
observed Mondays), and departmental days (16 Jul in La Paz, 14 Sep in Cochabamba, …).
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import holidays as holiday_library
from tortoise.expressions import Q

from turnero.core import brigades
from turnero.core.models import Office
from turnero.scheduler.models import OfficeClosure

# Office.department (the CI "expedido" codes) -> the library's Bolivian subdivisions.
SUBDIVISIONS = {
    "BE": "B", "CH": "H", "CB": "C", "LP": "L", "OR": "O", "PD": "N", "PT": "P", "SC": "S", "TJ": "T",
}


@functools.lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    try:
        table = holiday_library.country_holidays(country, subdiv=subdivision, years=year, language="es")
    except (NotImplementedError, KeyError, ValueError):  # unknown country or subdivision
        table = holiday_library.country_holidays(country, years=year, language="es")
    return dict(table)


def holiday_names(start: date, end: date, country: str, department: str | None, departmental: bool) -> dict[date, str]:
    """Holidays in [start, end] (inclusive): {day: name in Spanish}. An empty country
    turns them off (every day is then a working day unless closed in the database)."""
    if not country:
        return {}
    subdivision = SUBDIVISIONS.get(department or "") if departmental else None
    found = {}
    for year in range(start.year, end.year + 1):
        for day, name in _holidays(country.upper(), subdivision, year).items():
            if start <= day <= end:
                found[day] = name
    return found


BRIGADE_AWAY = "La brigada no tiene parada ese día"


async def closed_days(office: Office, start: date, end: date, country: str, departmental: bool) -> dict[date, str]:
    """Every day in [start, end] the office is closed: holidays and stored closures
    (office-specific or for every office)."""
    days = holiday_names(start, end, country, office.department, departmental)
    closures = await OfficeClosure.filter(
        Q(office_id__isnull=True) | Q(office_id=office.id), day__gte=start, day__lte=end
    ).values_list("day", "reason")
    for day, reason in closures:
        days[day] = reason or "Cierre de la oficina"
    if brigades.is_brigade(office):  # a brigade works only on the days of its stops
        span = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        for day, hours in (await brigades.hours_by_day(office, span)).items():
            if not hours:
                days.setdefault(day, BRIGADE_AWAY)
    return days
