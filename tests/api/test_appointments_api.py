"""Citas through the HTTP API (the app in-process, the clock frozen): availability,
booking, idempotency, cancel, reschedule, check-in, no-shows, calendars, bad input."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import assert_error, login
from tests.driver import app_settings, book_response as book
from turnero.core import clock
from turnero.queue.models import Lane, Ticket
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentEvent, AppointmentStatus, IdempotencyKey, Slot
from turnero.scheduler.rules import materialise_all
from turnero.scheduler.sweeps import close_finished, mark_no_shows, purge_idempotency_keys
from turnero.settings import Settings

ZONE = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-ZONA-SUR"  # three desks serve CI-RENOV: three places per slot
KIOSK_OFFICE = "LPZ-PRINCIPAL"  # the demo kiosk user belongs here
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)  # a Monday, 10:00 in La Paz


def local(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZONE)


def booking(start: datetime, number: str = "1234567", office: str = OFFICE, service_code: str = "CI-RENOV", **extra) -> dict:
    return {
        "office": office, "service": service_code, "start": start.isoformat(),
        "document": {"number": number, "issued_in": "LP"}, "name": "Juana Mamani", "phone": "71234567", **extra,
    }


@pytest.fixture
def settings(database) -> Settings:
    """As conftest's, with room for many bookings from one test client (the limit has
    its own test)."""
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute")


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(timezone.utc))
    yield


async def booked(client, start, number="1234567", **extra) -> dict:
    response = await book(client, booking(start, number, **extra))
    assert response.status_code == 201, response.text
    return response.json()


async def places_left(client, start: datetime, office=OFFICE, service_code="CI-RENOV") -> int:
    response = await client.get(
        f"/api/offices/{office}/availability", params={"service": service_code, "from": start.date().isoformat(), "days": 1}
    )
    assert response.status_code == 200, response.text
    for slot in response.json():
        if datetime.fromisoformat(slot["start"]) == start:
            return slot["available"]
    raise AssertionError(f"no slot at {start}")


async def set_capacity(client, capacity: int, office=OFFICE, service_code="CI-RENOV", **rule) -> None:
    admin = await login(client, "admin")
    response = await client.put(
        f"/api/offices/{office}/booking-rules", json={"service": service_code, "capacity": capacity, **rule}, headers=admin
    )
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- availability


async def test_availability_lists_slots_with_places_in_office_time(client):
    response = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "from": "2026-12-02", "days": 1})
    assert response.status_code == 200
    slots = response.json()
    assert slots[0] == {"start": "2026-12-02T07:30:00-04:00", "end": "2026-12-02T07:45:00-04:00", "capacity": 3, "available": 3}
    assert slots[-1]["end"] == "2026-12-02T16:00:00-04:00" and len(slots) == 34


async def test_availability_respects_notice_window_release_and_holidays(client):
    response = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "days": 62})
    starts = [datetime.fromisoformat(s["start"]) for s in response.json()]
    assert min(starts) == local(2026, 11, 30, 11, 0)  # one hour of notice from 10:00
    days = {s.date() for s in starts}
    assert max(days).isoformat() == "2026-12-30"  # 30 days ahead (released at 07:00 today)
    assert local(2026, 12, 25).date() not in days  # Navidad
    assert local(2026, 12, 5).date() not in days  # Saturday: Zona Sur is closed
    clock.freeze(local(2026, 12, 1, 6, 59).astimezone(timezone.utc))  # next morning, before the release
    response = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "days": 62})
    assert max(s["start"] for s in response.json()).startswith("2026-12-30")
    clock.freeze(local(2026, 12, 1, 7, 0).astimezone(timezone.utc))  # 07:00: the 31st opens
    response = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "days": 62})
    assert max(s["start"] for s in response.json()).startswith("2026-12-31")


async def test_holidays_produce_no_slots_at_all(client):
    clock.freeze(local(2026, 12, 20, 8, 0).astimezone(timezone.utc))
    await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV"})
    assert await Slot.filter(day="2026-12-25").count() == 0
    assert await Slot.filter(day="2026-12-24").count() > 0
    response = await book(client, booking(local(2026, 12, 25, 9, 0)))
    assert_error(response, 422, "office_closed")


async def test_offices_for_a_service_show_the_next_free_time(client):
    await set_capacity(client, 1)
    await booked(client, local(2026, 11, 30, 11, 0))  # the first bookable slot is now full
    response = await client.get("/api/services/CI-RENOV/offices")
    assert response.status_code == 200
    by_code = {o["code"]: o for o in response.json()}
    assert set(by_code) == {"LPZ-PRINCIPAL", "LPZ-TELEFERICO-ROJO", "LPZ-ZONA-SUR", "LPZ-BRIGADA-1"}  # + the brigade
    assert by_code[OFFICE]["next_free"] == {"start": "2026-11-30T11:15:00-04:00", "end": "2026-11-30T11:30:00-04:00", "available": 1}
    assert by_code["LPZ-PRINCIPAL"]["next_free"]["start"] == "2026-11-30T11:00:00-04:00"
    assert_error(await client.get("/api/services/NOPE/offices"), 404, "service_not_found")


# ---------------------------------------------------------------- booking


async def test_booking_returns_the_cita_and_writes_its_event(client):
    start = local(2026, 12, 2, 9, 0)
    cita = await booked(client, start, party_size=2)
    assert {k: cita[k] for k in ("office", "service", "start", "end", "status")} == {
        "office": OFFICE, "service": "CI-RENOV", "start": "2026-12-02T09:00:00-04:00",
        "end": "2026-12-02T09:15:00-04:00", "status": "booked",
    }
    assert len(cita["id"]) >= 12 and len(cita["code"]) == 8
    assert cita["document"]["number"].endswith("567") and "1234567" not in str(cita)  # masked
    assert cita["requirements"] and cita["can_cancel"] is True
    assert await places_left(client, start) == 1  # party of two took two of three places
    row = await Appointment.get(public_id=cita["id"])
    assert row.phone == "+59171234567" and row.document_key == "ci:1234567"
    assert await AppointmentEvent.filter(appointment_id=row.id).values_list("kind", flat=True) == ["booked"]


async def test_same_document_twice_is_409_already_booked_even_at_another_office(client):
    await booked(client, local(2026, 12, 2, 9, 0))
    before = await Slot.filter(booked__gt=0).count()
    response = await book(client, booking(local(2026, 12, 3, 9, 0), office="LPZ-PRINCIPAL"))
    assert_error(response, 409, "already_booked")
    assert await Slot.filter(booked__gt=0).count() == before
    # Another service is another cita.
    await booked(client, local(2026, 12, 3, 9, 0), service_code="SANEAMIENTO")


async def test_the_complemento_tells_two_people_with_one_number_apart(client):
    # 1234567-1A holds a cita; 1234567-1B is somebody else (the complemento exists for that).
    await booked(client, local(2026, 12, 2, 9, 0), "1234567-1A")
    other = await book(client, booking(local(2026, 12, 3, 9, 0), "1234567-1B"))
    assert other.status_code == 201, other.text
    for again in ("1234567-1B", "1234567 1b"):
        assert_error(await book(client, booking(local(2026, 12, 3, 10, 0), again)), 409, "already_booked")
    assert await Appointment.filter(document_number="1234567", status="booked").count() == 2


async def test_a_trámite_refuses_documents_it_does_not_take(client):
    # A passport cannot book a Bolivian CI renewal; the refusal names what it takes.
    body = booking(local(2026, 12, 2, 9, 0), "AB123456")
    body["document"] = {"type": "passport", "number": "AB123456"}
    error = assert_error(await book(client, body), 422, "document_not_accepted")
    assert "cédula de identidad" in error["message"] and "pasaporte" in error["message"]
    assert await Appointment.filter(document_number="AB123456").count() == 0
    services = {s["code"]: s for s in (await client.get("/api/services")).json()}
    assert services["CI-RENOV"]["documents"] == ["ci"]
    assert set(services["CIE"]["documents"]) == {"cie", "passport"}


async def test_full_slot_is_409_slot_full(client):
    start = local(2026, 12, 2, 9, 0)
    for n in range(3):
        await booked(client, start, f"{7000000 + n}")
    assert_error(await book(client, booking(start, "8000000")), 409, "slot_full")
    assert await places_left(client, start) == 0
    assert await Appointment.filter(status="booked").count() == 3


async def test_party_larger_than_the_places_left_is_slot_full_and_larger_than_a_slot_422(client):
    start = local(2026, 12, 2, 9, 0)
    await booked(client, start, "7000000", party_size=2)
    assert_error(await book(client, booking(start, "7000001", party_size=2)), 409, "slot_full")
    assert_error(await book(client, booking(start, "7000002", party_size=4)), 422, "party_too_large")
    await booked(client, start, "7000003", party_size=1)


async def test_idempotent_retry_returns_the_first_result(client):
    body = booking(local(2026, 12, 2, 9, 0))
    first = await book(client, body, **{"Idempotency-Key": "k-1"})
    again = await book(client, body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await Appointment.all().count() == 1
    other = booking(local(2026, 12, 2, 9, 15))
    assert_error(await book(client, other, **{"Idempotency-Key": "k-1"}), 422, "idempotency_key_reused")
    assert_error(await book(client, body, **{"Idempotency-Key": "x" * 200}), 422, "invalid_idempotency_key")
    # Keys are kept a day (the sweep job purges them).
    assert await purge_idempotency_keys(NOW + timedelta(hours=23)) == 0
    assert await purge_idempotency_keys(NOW + timedelta(hours=25)) == 1


async def test_concurrent_retries_with_one_key_make_one_booking(client):
    body = booking(local(2026, 12, 2, 9, 0))
    responses = await asyncio.gather(*[book(client, body, **{"Idempotency-Key": "same"}) for _ in range(10)])
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await Appointment.all().count() == 1 and await IdempotencyKey.all().count() == 1


async def test_a_refused_booking_is_not_stored_under_its_key(client):
    start = local(2026, 12, 2, 9, 0)
    await set_capacity(client, 1)
    await booked(client, start, "7000000")
    body = booking(start, "7000001")
    assert_error(await book(client, body, **{"Idempotency-Key": "retry-me"}), 409, "slot_full")
    await client.post(f"/api/appointments/{(await Appointment.first()).code}/cancel", json={"document": "7000000"})
    response = await book(client, body, **{"Idempotency-Key": "retry-me"})
    assert response.status_code == 201


async def test_booking_rate_limit_per_client_is_429(settings):
    from turnero.app import create_app

    app = create_app(settings.with_(booking_rate_limit="3/minute"))
    async with app.router.lifespan_context(app):  # (the template database holds the demo data)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            answers = [await book(c, booking(local(2026, 12, 2, 9, 0), f"{7000000 + n}")) for n in range(5)]
    codes = [a.status_code for a in answers]
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429]
    assert_error(answers[-1], 429, "rate_limited")
    assert 55 <= int(answers[-1].headers["retry-after"]) <= 60  # the minute's window, from its first booking


async def test_exam_booking_requires_a_category(client):
    from turnero.core.models import Office, Service
    from turnero.scheduler.models import BookingRule

    office = await Office.get(code="LPZ-SEGELIC")
    exam = await Service.get(code="EXAM-TEORICO")
    # (The exam room's demo data may bring its own rule: whichever it is, its first slot.)
    await BookingRule.get_or_create(office=office, service=exam, defaults={"slot_minutes": 60, "capacity": 20})
    sessions = await client.get("/api/offices/LPZ-SEGELIC/availability", params={"service": "EXAM-TEORICO", "from": "2026-12-02"})
    start = datetime.fromisoformat(next(s["start"] for s in sessions.json() if s["available"] > 0))
    body = booking(start, office="LPZ-SEGELIC", service_code="EXAM-TEORICO")
    assert_error(await book(client, body), 422, "category_required")
    response = await book(client, {**body, "category": "B"})
    assert response.status_code == 201 and response.json()["category"] == "B" and response.json()["kind"] == "exam"
    assert_error(await book(client, {**body, "category": "Z"}), 422, "validation_error")


# ---------------------------------------------------------------- look-up, ics, qr


async def test_lookup_needs_the_right_document_with_the_code(client):
    cita = await booked(client, local(2026, 12, 2, 9, 0))
    ok = await client.get(f"/api/appointments/{cita['code']}", params={"document": "1234567"})
    assert ok.status_code == 200 and ok.json()["id"] == cita["id"]
    lower = await client.get(f"/api/appointments/{cita['code'].lower()}", params={"document": "1234567"})
    assert lower.status_code == 200
    assert_error(await client.get(f"/api/appointments/{cita['code']}", params={"document": "7654321"}), 404, "appointment_not_found")
    assert_error(await client.get(f"/api/appointments/{cita['code']}"), 404, "appointment_not_found")
    by_id = await client.get(f"/api/appointments/{cita['id']}")
    assert by_id.status_code == 200 and by_id.json()["code"] == cita["code"]
    assert_error(await client.get(f"/api/appointments/{cita['id']}", params={"document": "7654321"}), 404)


async def test_calendar_file_and_qr_code(client):
    cita = await booked(client, local(2026, 12, 2, 9, 0))
    ics = await client.get(cita["links"]["ics"])
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    text = ics.text.replace("\r\n ", "")
    assert "DTSTART:20261202T130000Z" in text and "DTEND:20261202T131500Z" in text
    assert f"UID:{cita['id']}@turnero" in text and cita["code"] in text
    by_code = await client.get(f"/api/appointments/{cita['code']}/calendar.ics", params={"document": "1234567"})
    assert by_code.status_code == 200
    assert_error(await client.get(f"/api/appointments/{cita['code']}/calendar.ics"), 404)
    qr = await client.get(cita["links"]["qr"])
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml" and qr.text.startswith("<svg")


# ---------------------------------------------------------------- cancel and reschedule


async def test_cancel_frees_the_place_and_the_document(client):
    start = local(2026, 12, 2, 9, 0)
    await set_capacity(client, 1)
    cita = await booked(client, start)
    assert await places_left(client, start) == 0
    response = await client.post(f"/api/appointments/{cita['code']}/cancel", json={"document": "1234567"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert await places_left(client, start) == 1
    assert_error(await client.post(f"/api/appointments/{cita['code']}/cancel", json={"document": "1234567"}), 409, "not_changeable")
    again = await booked(client, start)  # the same document may book again
    assert again["code"] != cita["code"]
    kinds = await AppointmentEvent.filter(appointment__public_id=cita["id"]).order_by("id").values_list("kind", flat=True)
    assert kinds == ["booked", "cancelled"]


async def test_cancel_with_a_wrong_document_is_404_and_changes_nothing(client):
    cita = await booked(client, local(2026, 12, 2, 9, 0))
    for document in ("7654321", "1234567-9Z", {"number": "7654321"}):
        response = await client.post(f"/api/appointments/{cita['code']}/cancel", json={"document": document})
        assert_error(response, 404, "appointment_not_found")
    assert (await Appointment.get(public_id=cita["id"])).status == AppointmentStatus.BOOKED


async def test_cancel_after_the_cutoff_is_409(client):
    cita = await booked(client, local(2026, 12, 2, 9, 0))
    clock.freeze(local(2026, 12, 2, 7, 1).astimezone(timezone.utc))
    response = await client.post(f"/api/appointments/{cita['code']}/cancel", json={"document": "1234567"})
    assert_error(response, 409, "cutoff_passed")


async def test_reschedule_moves_the_places_atomically(client):
    old, new = local(2026, 12, 2, 9, 0), local(2026, 12, 3, 10, 0)
    cita = await booked(client, old, party_size=2)
    response = await client.post(f"/api/appointments/{cita['code']}/reschedule", json={"document": "1234567", "start": new.isoformat()})
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["start"] == "2026-12-03T10:00:00-04:00" and moved["code"] == cita["code"]
    assert await places_left(client, old) == 3 and await places_left(client, new) == 1
    kinds = await AppointmentEvent.filter(appointment__public_id=cita["id"]).order_by("id").values_list("kind", flat=True)
    assert kinds == ["booked", "rescheduled"]


async def test_reschedule_to_a_full_slot_keeps_the_first(client):
    old, full = local(2026, 12, 2, 9, 0), local(2026, 12, 3, 10, 0)
    await set_capacity(client, 1)
    cita = await booked(client, old)
    await booked(client, full, "7000000")
    response = await client.post(f"/api/appointments/{cita['code']}/reschedule", json={"document": "1234567", "start": full.isoformat()})
    assert_error(response, 409, "slot_full")
    row = await Appointment.get(public_id=cita["id"])
    assert row.status == AppointmentStatus.BOOKED and row.start == old
    assert await places_left(client, old) == 0 and await places_left(client, full) == 0
    same = await client.post(f"/api/appointments/{cita['code']}/reschedule", json={"document": "1234567", "start": old.isoformat()})
    assert_error(same, 422, "same_slot")


async def test_reschedule_errors_change_nothing(client):
    old = local(2026, 12, 2, 9, 0)
    cita = await booked(client, old, party_size=2)
    url = f"/api/appointments/{cita['code']}/reschedule"
    cases = [
        ({"document": "1234567", "start": "2026-12-03T09:07:00-04:00"}, 422, "invalid_start"),
        ({"document": "1234567", "start": "2026-12-25T09:00:00-04:00"}, 422, "office_closed"),
        ({"document": "1234567", "start": "2026-11-30T10:30:00-04:00"}, 422, "too_soon"),
        ({"document": "1234567", "start": "2027-01-15T09:00:00-04:00"}, 422, "not_yet_open"),
        ({"document": "1234567", "start": "mañana"}, 422, "validation_error"),
        ({"document": "1234567"}, 422, "validation_error"),
        ({"document": "7654321", "start": "2026-12-03T09:00:00-04:00"}, 404, "appointment_not_found"),
    ]
    for body, status, code in cases:
        assert_error(await client.post(url, json=body), status, code)
    await set_capacity(client, 1)  # the cita's own slot keeps its two places (never below booked)
    assert_error(await client.post(url, json={"document": "1234567", "start": "2026-12-03T09:00:00-04:00"}), 422, "party_too_large")
    clock.freeze(local(2026, 12, 2, 7, 1).astimezone(timezone.utc))  # 119 minutes before: past the cut-off
    assert_error(await client.post(url, json={"document": "1234567", "start": "2026-12-03T09:00:00-04:00"}), 409, "cutoff_passed")
    row = await Appointment.get(public_id=cita["id"])
    assert (row.status, row.start, row.reschedule_count) == (AppointmentStatus.BOOKED, old, 0)
    assert await Slot.filter(booked__gt=0).values_list("start", "booked") == [(old, 2)]
    clock.freeze(NOW.astimezone(timezone.utc))
    await client.post(f"/api/appointments/{cita['code']}/cancel", json={"document": "1234567"})
    moved = await client.post(url, json={"document": "1234567", "start": "2026-12-03T09:00:00-04:00"})
    assert_error(moved, 409, "not_changeable")


async def test_concurrent_reschedules_never_hold_two_places(client):
    await set_capacity(client, 1)
    old = local(2026, 12, 2, 9, 0)
    cita = await booked(client, old)
    # Five at once: each look-up by code and document is counted before the document is
    # checked (CITA_GUESSES_PER_CODE), so a sixth concurrent one could be refused (429).
    targets = [local(2026, 12, 3, 8, 0) + timedelta(minutes=15 * n) for n in range(5)]
    responses = await asyncio.gather(*[
        client.post(f"/api/appointments/{cita['code']}/reschedule", json={"document": "1234567", "start": t.isoformat()})
        for t in targets
    ])
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    row = await Appointment.get(public_id=cita["id"])
    taken = await Slot.filter(booked__gt=0).values_list("id", flat=True)
    assert taken == [row.slot_id]  # exactly one place held, the cita's own


# ---------------------------------------------------------------- check-in and no-shows


async def kiosk_cita(client, start: datetime, number="1234567") -> dict:
    return await booked(client, start, number, office=KIOSK_OFFICE)


async def test_checkin_by_code_inside_the_window_issues_an_appointment_ticket(client, kiosk):
    start = local(2026, 11, 30, 11, 0)
    cita = await kiosk_cita(client, start)
    clock.freeze((start - timedelta(minutes=30)).astimezone(timezone.utc))
    response = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["status"] == "waiting" and ticket["appointment"] == cita["code"] and ticket["late"] is False
    row = await Ticket.get(public_id=ticket["id"])
    assert row.lane == Lane.APPOINTMENT and row.due_at == start
    appt = await Appointment.get(public_id=cita["id"])
    assert appt.status == AppointmentStatus.CHECKED_IN and appt.ticket_id == row.id
    again = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
    assert_error(again, 409, "already_checked_in")
    view = await client.get(f"/api/appointments/{cita['id']}")
    assert view.json()["status"] == "checked_in" and view.json()["ticket"] == ticket["id"]


async def test_checkin_by_document_and_by_scanned_qr_link(client, kiosk):
    start = local(2026, 11, 30, 11, 0)
    a = await kiosk_cita(client, start, "5555555")
    b = await kiosk_cita(client, start, "6666666")
    clock.freeze(start.astimezone(timezone.utc))
    by_doc = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"document": "5555555"}, headers=kiosk)
    assert by_doc.status_code == 201 and by_doc.json()["appointment"] == a["code"]
    link = f"https://turnero.example/citas/{b['id']}"
    by_qr = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": link}, headers=kiosk)
    assert by_qr.status_code == 201 and by_qr.json()["appointment"] == b["code"]
    assert_error(await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"document": "9999999"}, headers=kiosk), 404)


async def test_checkin_window_edges_to_the_second(client, kiosk):
    """Open from 30 minutes before the start to 15 after, both ends included."""
    start = local(2026, 11, 30, 11, 0)
    early, late = await kiosk_cita(client, start, "1111111"), await kiosk_cita(client, start, "2222222")
    for cita, outside, inside, code in [
        (early, -30 * 60 - 1, -30 * 60, "too_early"),
        (late, 15 * 60 + 1, 15 * 60, "too_late"),
    ]:
        clock.freeze((start + timedelta(seconds=outside)).astimezone(timezone.utc))
        response = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
        assert_error(response, 409, code)
        assert (await Appointment.get(public_id=cita["id"])).status == AppointmentStatus.BOOKED
        assert await Ticket.filter(appointments__public_id=cita["id"]).count() == 0
        clock.freeze((start + timedelta(seconds=inside)).astimezone(timezone.utc))
        response = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
        assert response.status_code == 201 and response.json()["late"] is False, response.text
    assert await Ticket.all().count() == 2


async def test_checkin_at_another_office_or_without_the_kiosk_role(client, kiosk):
    start = local(2026, 11, 30, 11, 0)
    cita = await booked(client, start)  # at Zona Sur
    clock.freeze(start.astimezone(timezone.utc))
    response = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
    assert_error(response, 409, "wrong_office")
    assert_error(await client.post(f"/api/offices/{OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk), 403)
    assert_error(await client.post(f"/api/offices/{OFFICE}/checkins", json={"code": cita["code"]}), 401)
    assert_error(await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={}, headers=kiosk), 422)
    assert_error(
        await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": "X", "document": "1"}, headers=kiosk), 422
    )


async def test_late_arrival_as_walk_in_when_configured(settings):
    from turnero.app import create_app

    app = create_app(settings.with_(late_checkin="walk_in"))
    async with app.router.lifespan_context(app):  # (the template database holds the demo data)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            kiosk = await login(c, "kiosko")
            start = local(2026, 11, 30, 11, 0)
            cita = await booked(c, start, office=KIOSK_OFFICE)
            clock.freeze((start + timedelta(minutes=16)).astimezone(timezone.utc))
            response = await c.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
            assert response.status_code == 201 and response.json()["late"] is True
            row = await Ticket.get(public_id=response.json()["id"])
            assert row.lane == Lane.REGULAR and row.due_at is None


async def test_an_appointment_ticket_is_called_ahead_of_walk_ins_at_its_time(client, kiosk):
    start = local(2026, 11, 30, 11, 0)
    cita = await kiosk_cita(client, start)
    clock.freeze((start - timedelta(minutes=10)).astimezone(timezone.utc))
    walk_in = await client.post(f"/api/offices/{KIOSK_OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=kiosk)
    assert walk_in.status_code == 201
    checked = (await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)).json()
    op = await login(client, "operador3")
    assert (await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/3/open", headers=op)).status_code == 200
    first = await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/3/call-next", headers=op)
    assert first.json()["id"] == walk_in.json()["id"]  # before its time, the cita waits
    await client.post(f"/api/tickets/{first.json()['id']}/finish", headers=op)
    await client.post(f"/api/offices/{KIOSK_OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=kiosk)
    clock.freeze(start.astimezone(timezone.utc))
    second = await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/3/call-next", headers=op)
    assert second.json()["id"] == checked["id"]  # at its time, ahead of the walk-in


async def test_no_show_job_marks_unclaimed_citas_after_the_grace(client, kiosk):
    start = local(2026, 11, 30, 11, 0)
    unclaimed = await kiosk_cita(client, start, "1111111")
    claimed = await kiosk_cita(client, start, "2222222")
    later = await kiosk_cita(client, local(2026, 11, 30, 12, 0), "3333333")
    clock.freeze(start.astimezone(timezone.utc))
    await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": claimed["code"]}, headers=kiosk)
    config = SchedulerConfig()
    assert await mark_no_shows(config, start + timedelta(minutes=15)) == 0  # window still open
    assert await mark_no_shows(config, start + timedelta(minutes=16)) == 1
    assert await mark_no_shows(config, start + timedelta(minutes=17)) == 0  # once only
    statuses = {a.public_id: a.status for a in await Appointment.all()}
    assert statuses == {unclaimed["id"]: "no_show", claimed["id"]: "checked_in", later["id"]: "booked"}
    kinds = await AppointmentEvent.filter(appointment__public_id=unclaimed["id"]).order_by("id").values_list("kind", flat=True)
    assert kinds == ["booked", "no_show"]
    clock.freeze((start + timedelta(minutes=20)).astimezone(timezone.utc))
    late = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": unclaimed["code"]}, headers=kiosk)
    assert_error(late, 409, "not_checkable")
    # The next day the checked-in cita is done, and the document may book again.
    assert await close_finished(start + timedelta(days=1)) == 1
    assert (await Appointment.get(public_id=claimed["id"])).status == AppointmentStatus.DONE


# ---------------------------------------------------------------- calendars


async def test_closure_cancels_that_days_citas_and_removes_its_places(client):
    day = local(2026, 12, 2, 9, 0)
    cita = await booked(client, day)
    sup = await login(client, "admin")
    response = await client.post(f"/api/offices/{OFFICE}/closures", json={"date": "2026-12-02", "reason": "Inventario"}, headers=sup)
    assert response.status_code == 201 and response.json()["cancelled"] == 1
    assert (await Appointment.get(public_id=cita["id"])).status == AppointmentStatus.CANCELLED
    slots = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "from": "2026-12-02", "days": 1})
    assert slots.json() == []
    assert_error(await book(client, booking(day, "7000000")), 422, "office_closed")
    calendar = (await client.get(f"/api/offices/{OFFICE}/calendar")).json()
    assert {"date": "2026-12-02", "reason": "Inventario"} in calendar["closed_days"]
    assert {"date": "2026-12-25", "reason": "Navidad"} in calendar["closed_days"]
    past = await client.post(f"/api/offices/{OFFICE}/closures", json={"date": "2026-11-30"}, headers=sup)
    assert_error(past, 422, "invalid_date")
    for typo in ("2226-12-02", "1926-12-02", "9999-12-31"):  # far outside any calendar: refused, nothing closed
        refused = await client.post(f"/api/offices/{OFFICE}/closures", json={"date": typo}, headers=sup)
        assert_error(refused, 422)
        assert "fecha fuera de rango" in refused.json()["error"]["message"]
    assert (await client.get(f"/api/offices/{OFFICE}/calendar")).json()["closed_days"] == calendar["closed_days"]
    other = await login(client, "supervisor")  # supervisor of LPZ-PRINCIPAL
    assert_error(await client.post(f"/api/offices/{OFFICE}/closures", json={"date": "2026-12-04"}, headers=other), 403)


async def test_places_default_to_the_desks_whose_primary_service_it_is(client):
    async def capacity(office, service_code):
        response = await client.get(
            f"/api/offices/{office}/availability", params={"service": service_code, "from": "2026-12-02", "days": 1}
        )
        return {s["capacity"] for s in response.json()}

    # LPZ-PRINCIPAL: desks 3-5 and 11-18 serve CI-RENOV first (11); eight more only as a
    # fallback, and those do not add places.
    assert await capacity(KIOSK_OFFICE, "CI-RENOV") == {11}
    # A multi-step trámite: the desks of its first step (DESCARTE: desks 1 and 2).
    assert await capacity(KIOSK_OFFICE, "CI-NUEVO") == {2}
    assert await capacity(OFFICE, "SANEAMIENTO") == {1}


async def test_the_job_makes_the_window_ahead_once_and_a_new_slot_length_only_for_new_days(client):
    from turnero.scheduler import jobs

    config = SchedulerConfig()
    await jobs.materialise_slots(config)
    days = set(await Slot.filter(office__code=OFFICE, service__code="CI-RENOV").values_list("day", flat=True))
    assert min(days).isoformat() == "2026-11-30" and max(days).isoformat() == "2026-12-31"  # window + the next day
    assert local(2026, 12, 25).date() not in days and local(2026, 12, 5).date() not in days  # Navidad, Saturday
    total = await Slot.all().count()
    assert await materialise_all(config) == 0 and await Slot.all().count() == total  # idempotent
    # Twenty-minute slots from now on: the days already made keep their grid (no
    # second, overlapping set of slots), the days made later get the new one.
    await set_capacity(client, 3, slot_minutes=20)
    made = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "from": "2026-12-02", "days": 1})
    starts = [s["start"][11:16] for s in made.json()]
    assert len(starts) == 34 and starts[:3] == ["07:30", "07:45", "08:00"]
    clock.freeze(local(2026, 12, 5, 8, 0).astimezone(timezone.utc))  # 4 January 2027 has opened
    new = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "from": "2027-01-04", "days": 1})
    starts = [s["start"][11:16] for s in new.json()]
    assert len(starts) == 25 and starts[:3] == ["07:30", "07:50", "08:10"]


async def test_capacity_change_applies_to_future_slots_but_never_below_booked(client):
    start = local(2026, 12, 2, 9, 0)
    await booked(client, start, "7000000", party_size=2)
    await set_capacity(client, 1)
    assert await places_left(client, start) == 0
    slot = await Slot.get(start=start.astimezone(timezone.utc), office__code=OFFICE)
    assert (slot.capacity, slot.booked) == (2, 2)
    await set_capacity(client, 5)
    assert await places_left(client, start) == 3


# ---------------------------------------------------------------- bad input never 500

BAD_BOOKINGS = [
    ({"office": "NOPE"}, 404, "office_not_found"),
    ({"service": "NOPE"}, 404, "service_not_found"),
    ({"service": "LIC-NUEVA"}, 422, "service_not_offered"),
    ({"office": "LPZ-PRINCIPAL", "service": "CERT"}, 422, "not_bookable"),
    ({"start": "2026-12-02T09:07:00-04:00"}, 422, "invalid_start"),
    ({"start": "2026-12-02T03:00:00-04:00"}, 422, "invalid_start"),
    ({"start": "2026-11-30T08:00:00-04:00"}, 422, "slot_in_past"),
    ({"start": "2026-11-30T10:30:00-04:00"}, 422, "too_soon"),
    ({"start": "2027-01-15T09:00:00-04:00"}, 422, "not_yet_open"),
    ({"start": "9999-12-31T23:59:59-04:00"}, 422, "invalid_start"),
    ({"start": "0001-01-01T00:00:00+14:00"}, 422, "invalid_start"),
    ({"start": "mañana"}, 422, "validation_error"),
    ({"start": 1764680400}, 422, "validation_error"),
    ({"document": {"number": "12"}}, 422, "validation_error"),
    ({"document": {"number": "1234567", "issued_in": "XX"}}, 422, "validation_error"),
    ({"document": {"number": "1234567", "complement": "ZZZ"}}, 422, "validation_error"),
    ({"document": "1234567"}, 422, "validation_error"),
    ({"phone": "123"}, 422, "validation_error"),
    ({"phone": "+54 11 1234 5678"}, 422, "validation_error"),
    ({"party_size": 0}, 422, "validation_error"),
    ({"party_size": 11}, 422, "validation_error"),
    ({"party_size": "2"}, 422, "validation_error"),
    ({"name": ""}, 422, "validation_error"),
    ({"name": "x" * 500}, 422, "validation_error"),
    ({"category": "Q"}, 422, "validation_error"),
]


async def test_bad_bookings_are_4xx_and_change_nothing(client):
    for change, status, code in BAD_BOOKINGS:
        body = {**booking(local(2026, 12, 2, 9, 0)), **change}
        response = await book(client, body)
        assert_error(response, status, code)
        assert await Appointment.all().count() == 0, change
        assert await Slot.filter(booked__gt=0).count() == 0, change


BAD_AVAILABILITY = [
    ({}, 422), ({"service": "NOPE"}, 404), ({"service": "CI-RENOV", "from": "2026-13-01"}, 422),
    ({"service": "CI-RENOV", "from": "x"}, 422), ({"service": "CI-RENOV", "days": "0"}, 422),
    ({"service": "CI-RENOV", "days": "100000"}, 422), ({"service": "CI-RENOV", "days": "-1"}, 422),
    ({"service": "CI-RENOV", "days": "1e3"}, 422), ({"service": "CI-RENOV", "from": "9999-12-31"}, 422),
    ({"service": "S" * 3000}, 404), ({"service": "CI-RENOV\x00"}, 422), ({"service": "CERT"}, 422),
]


async def test_bad_availability_queries(client):
    for params, status in BAD_AVAILABILITY:
        assert_error(await client.get(f"/api/offices/{OFFICE}/availability", params=params), status)
    assert_error(await client.get("/api/offices/NOPE/availability", params={"service": "CI-RENOV"}), 404, "office_not_found")


async def test_availability_far_in_the_future_or_past_is_empty(client):
    for first in ("2030-01-01", "2001-01-01"):
        response = await client.get(f"/api/offices/{OFFICE}/availability", params={"service": "CI-RENOV", "from": first})
        assert response.status_code == 200 and response.json() == []


async def test_unknown_appointment_is_404_everywhere(client):
    await booked(client, local(2026, 12, 2, 9, 0))
    from turnero.core.ratelimit import Attempts

    for ref in ["NOPE", "AAAAAAAA", "x" * 500, "%00", "A473-DXKW", "A473DXKW"]:
        # (30 wrong look-ups from one address would be refused past CITA_GUESSES_PER_CLIENT.)
        client._transport.app.state.attempts = Attempts()
        for method, suffix, body in [
            ("GET", "", None), ("GET", "/calendar.ics", None), ("GET", "/qr.svg", None),
            ("POST", "/cancel", {"document": "1234567"}),
            ("POST", "/reschedule", {"document": "1234567", "start": "2026-12-03T09:00:00-04:00"}),
        ]:
            response = await client.request(method, f"/api/appointments/{ref}{suffix}", params={"document": "1234567"}, json=body)
            if ref == "%00":  # no code holds a NUL: refused before any look-up
                assert_error(response, 422, "invalid_characters")
            else:
                assert_error(response, 404, "appointment_not_found")


async def test_bad_cancel_bodies_are_422(client):
    cita = await booked(client, local(2026, 12, 2, 9, 0))
    for body in [{}, {"document": ""}, {"document": None}, {"document": 1234567}, {"document": "9" * 100}]:
        assert_error(await client.post(f"/api/appointments/{cita['code']}/cancel", json=body), 422, "validation_error")
    assert_error(await client.post(f"/api/appointments/{cita['code']}/cancel", content=b"{"), 400)
    assert (await Appointment.get(public_id=cita["id"])).status == AppointmentStatus.BOOKED


async def test_garbage_at_every_citas_route_is_never_a_500(client):
    """The same kind of garbage tests/api/test_api_errors.py throws at every route, here for
    the citas routes with their own path parameters ({code}, {service})."""
    from turnero.scheduler.routes import routes

    cita = await booked(client, local(2026, 12, 2, 9, 0))
    admin = await login(client, "admin")
    real = {"office": OFFICE, "code": cita["code"], "service": "CI-RENOV"}
    segments = ["NOPE", "%00", "%ED%A0%80", "'%20OR%201=1", "A" * 2000]
    bodies = [
        b"{", b"[]", b'{"a": NaN}', b'{"start": 1e400, "party_size": 1e400}',
        b'{"office": "\\u0000", "service": "\\u0000", "document": "\\u0000", "code": "\\u0000"}',
        b'{"document": {"number": "1234567"}, "start": "2026-12-02T09:00:00-04:00", "name": "x", "code": "x"}',
        b'{"date": "0001-01-01", "service": "CI-RENOV", "slot_minutes": 1e9, "hours": {"mon": [["25:00", "x"]]}}',
        b'{"date": "9999-12-31", "service": "CI-RENOV", "capacity": -1, "release_time": "7"}',
        b"[" * 3000 + b"]" * 3000,
    ]
    for route in routes:
        method = next(iter(route.methods - {"HEAD"}))
        urls = {re.sub(r"\{(\w+)\}", lambda m: real[m.group(1)], route.path)}
        for segment in segments:
            urls.add(re.sub(r"\{(\w+)\}", segment, route.path))
        urls = sorted(urls)
        urls += [urls[0] + "?service=%00&from=x&days=-1&document=%00", urls[0] + "?service=" + "S" * 3000]
        for headers in (admin, {}):
            for url in urls:
                for raw in bodies:
                    response = await client.request(method, url, content=raw, headers=headers)
                    assert response.status_code < 500, (method, url, raw[:60], response.text[:300])
                    if response.status_code >= 400:
                        assert_error(response, response.status_code)
