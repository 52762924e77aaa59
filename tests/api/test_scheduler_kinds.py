"""The citas engine asks a service's bookable kind (turnero/scheduler/kinds.py) — a new
slot's places, the refusals before booking, the kiosk check-in — and never tests for the
exam: a kind registered for the counter services changes what the API does, through
the same booking path; with none registered they book as before."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import assert_error
from turnero.core import clock
from turnero.core.errors import conflict, invalid
from turnero.core.models import Office, Service, ServiceKind
from turnero.exam.booking import ExamKind
from turnero.scheduler import kinds
from turnero.scheduler.models import Appointment, AppointmentStatus

ZONE = ZoneInfo("America/La_Paz")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)  # a Monday, 10:00 in La Paz
OFFICE = "LPZ-PRINCIPAL"  # the demo kiosk user's office


class Strict(kinds.BookableKind):
    """A kind that says something at every hook, and remembers what it was asked."""

    def __init__(self):
        self.asked: list[str] = []

    async def capacity(self, office, service, rule):
        self.asked.append(f"capacity {service.code}")
        return 7

    async def check_booking(self, office, service, body, now):
        self.asked.append(f"check_booking {body['document']['number']}")
        if body["document"]["number"] == "6666666":
            raise invalid("Ese documento no puede reservar este trámite.", code="kind_refused")

    def check_in(self, appt):
        self.asked.append(f"check_in {appt.code}")
        raise conflict("kind_checkin_elsewhere", "Regístrese en otra ventanilla.")


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(timezone.utc))
    yield


@pytest.fixture
def strict():
    hooks = Strict()
    kinds.register(ServiceKind.COUNTER, hooks)
    yield hooks
    kinds.register(ServiceKind.COUNTER, kinds.COUNTER)  # counters book as counters again


def body(start: datetime, number: str) -> dict:
    return {"office": OFFICE, "service": "CI-RENOV", "start": start.isoformat(),
            "document": {"number": number, "issued_in": "LP"}, "name": "Juana Mamani"}


async def test_the_engine_asks_the_kind_for_places_refusals_and_check_in(client, kiosk, strict):
    day = await client.get(f"/api/offices/{OFFICE}/availability",
                           params={"service": "CI-RENOV", "from": "2026-11-30", "days": 1})
    assert day.status_code == 200, day.text
    assert day.json() and {slot["available"] for slot in day.json()} == {7}  # the kind's places
    assert "capacity CI-RENOV" in strict.asked

    start = datetime.fromisoformat(next(s["start"] for s in day.json() if s["start"] >= "2026-11-30T11"))
    refused = await client.post("/api/appointments", json=body(start, "6666666"))
    assert_error(refused, 422, "kind_refused")
    assert not await Appointment.exists(document_number="6666666")  # refused before a place was taken

    booked = await client.post("/api/appointments", json=body(start, "1234567"))
    assert booked.status_code == 201, booked.text
    cita = booked.json()
    clock.freeze((start - timedelta(minutes=30)).astimezone(timezone.utc))
    checkin = await client.post(f"/api/offices/{OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
    assert_error(checkin, 409, "kind_checkin_elsewhere")
    assert (await Appointment.get(public_id=cita["id"])).status == AppointmentStatus.BOOKED
    assert strict.asked[-1] == f"check_in {cita['code']}"


async def test_without_a_kind_a_counter_books_and_checks_in_as_before(client, kiosk):
    start = datetime(2026, 11, 30, 11, 0, tzinfo=ZONE)
    booked = await client.post("/api/appointments", json=body(start, "6666666"))
    assert booked.status_code == 201, booked.text
    clock.freeze((start - timedelta(minutes=30)).astimezone(timezone.utc))
    checkin = await client.post(f"/api/offices/{OFFICE}/checkins", json={"code": booked.json()["code"]},
                                headers=kiosk)
    assert checkin.status_code == 201, checkin.text


async def test_each_service_gets_its_kinds_hooks(db):
    counter = await Service.get(code="CI-RENOV")
    exam = await Service.filter(kind=ServiceKind.EXAM).first()
    assert kinds.kind_of(counter) is kinds.COUNTER
    assert isinstance(kinds.kind_of(exam), ExamKind)  # plugged in by wiring.wire(settings)
    office = await Office.get(code=OFFICE)
    assert await kinds.COUNTER.capacity(office, counter, None) is None  # the rule's, or the desks'
