"""Citas and their messages, end to end: booked through the API, sent by the dispatcher
with the real `twilio` client to the loopback fake, the clock moved to each reminder;
cancel, reschedule, office closure, and the citizen's signed CANCELAR / SI replies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.driver import app_settings, book as book_cita, cita
from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.models import Office, Role, User
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import TwilioGateway
from turnero.notifications.models import InboundMessage, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig
from turnero.scheduler.calendars import add_closure
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentEvent, AppointmentStatus, Slot
from turnero.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

ZONE = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-ZONA-SUR"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)  # Monday 10:00 in La Paz
START = datetime(2026, 12, 2, 9, 30, tzinfo=ZONE)  # Wednesday 09:30
PHONE = "+59171234567"
PUBLIC = "https://turnero.example.bo"
INBOUND = "/api/notifications/twilio/inbound"
CONFIG = NotificationConfig(backoff_base=timedelta(seconds=30), max_attempts=6, public_url=PUBLIC)


@pytest.fixture(scope="module")
def fake():
    server = TwilioFake().start()
    yield server
    server.stop()


@pytest.fixture
def settings(database) -> Settings:
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute",
                    twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC)


@pytest.fixture(autouse=True)
def _setup(fake):
    fake.reset()
    clock.freeze(NOW.astimezone(timezone.utc))


@pytest.fixture
async def gateway(fake):
    gw = TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, sms_from="+15005550006", public_url=PUBLIC, api_base_url=fake.url)
    yield gw
    await gw.aclose()


def move_to(at: datetime) -> None:
    clock.freeze(at.astimezone(timezone.utc))


async def book(client, start: datetime = START, number: str = "1234567", phone: str | None = "71234567") -> dict:
    return await book_cita(client, cita(start, number, OFFICE, **({"phone": phone} if phone else {})))


async def rows(appointment_code: str) -> list[OutboundMessage]:
    appt = await Appointment.get(code=appointment_code)
    return await OutboundMessage.filter(appointment_id=appt.id).order_by("send_at", "id")


async def reply(client, body: str, sid: str, sender: str = PHONE, signature: str | None = None):
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": "+15005550006", "Body": body}
    signer = TwilioFake.__new__(TwilioFake)
    signer.auth_token = AUTH_TOKEN
    return await client.post(
        INBOUND, content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": signature or signer.sign(PUBLIC + INBOUND, params)},
    )


# ---------------------------------------------------------------- booking


async def test_a_booking_sends_a_confirmation_then_two_reminders_on_time(client, fake, gateway):
    cita = await book(client)
    confirmation, day_before, two_hours = await rows(cita["code"])
    assert (confirmation.template, confirmation.send_at) == ("cita_confirmada", NOW.astimezone(timezone.utc))
    assert day_before.template == two_hours.template == "cita_recordatorio"
    assert day_before.send_at == (START - timedelta(hours=24)).astimezone(timezone.utc)
    assert two_hours.send_at == (START - timedelta(hours=2)).astimezone(timezone.utc)
    assert day_before.expires_at == two_hours.expires_at == START.astimezone(timezone.utc)

    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    (sent,) = fake.accepted
    assert sent.one("To") == PHONE
    assert sent.one("Body") == (
        f"SEGIP: cita {cita['code']} confirmada el mié 02/12 09:30 en SEGIP Zona Sur."
        " Lleve sus requisitos. Para anular responda CANCELAR."
    )

    move_to(START - timedelta(hours=24, minutes=1))
    assert (await dispatch_due(gateway, CONFIG)).claimed == 0  # not a minute early
    move_to(START - timedelta(hours=24))
    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    assert fake.accepted[-1].one("Body") == (
        f"SEGIP: recuerde su cita {cita['code']} mañana mié 02/12 09:30 en SEGIP Zona Sur."
        " Confirme con SI o anule con CANCELAR."
    )
    move_to(START - timedelta(hours=2))
    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    assert f"{cita['code']} hoy mié 02/12 09:30" in fake.accepted[-1].one("Body")
    move_to(START + timedelta(days=1))
    assert (await dispatch_due(gateway, CONFIG)).claimed == 0
    assert len(fake.accepted) == 3
    assert all(m.status == MessageStatus.SENT for m in await rows(cita["code"]))


async def test_the_confirmation_says_what_the_trámite_costs_where_a_figure_is_published(client, fake, gateway):
    # The CIE's reference fee (the seeds' 2020 figure); a trámite with no published figure
    # says nothing of money (see the test above: CI-RENOV).
    body = {"office": "LPZ-PRINCIPAL", "service": "CIE", "start": START.isoformat(),
            "document": {"type": "passport", "number": "AB123456"}, "name": "Ana Pérez", "phone": "71234567"}
    response = await client.post("/api/appointments", json=body)
    assert response.status_code == 201, response.text
    cita = response.json()
    assert cita["fee_bs"] == 548.0 and "Banco Unión" in cita["fee_note"]
    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    text = fake.accepted[-1].one("Body")
    assert "Lleve sus requisitos y el pago (Bs 548)." in text
    ics = (await client.get(f"/api/appointments/{cita['id']}/calendar.ics")).text.replace("\r\n ", "")
    assert "Costo: Bs 548" in ics


async def test_a_booking_without_a_phone_writes_no_message(client):
    cita = await book(client, phone=None)
    assert await rows(cita["code"]) == []


async def test_a_cita_booked_hours_ahead_gets_only_the_reminders_still_ahead(client):
    move_to(START - timedelta(hours=5))
    cita = await book(client)
    assert [m.template for m in await rows(cita["code"])] == ["cita_confirmada", "cita_recordatorio"]


async def test_provider_outage_does_not_block_booking_and_the_confirmation_goes_once(client, fake, gateway):
    fake.fail_next(3, status=500)
    cita = await book(client)  # answered at once: nothing is sent inside the request
    assert fake.requests == []
    for _ in range(3):
        report = await dispatch_due(gateway, CONFIG)
        assert report.retrying == 1
        (pending,) = [m for m in await rows(cita["code"]) if m.template == "cita_confirmada"]
        clock.advance(pending.next_attempt_at - clock.now())
    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    assert [r.status for r in fake.requests] == [500, 500, 500, 201]
    assert len([r for r in fake.accepted if "confirmada" in r.one("Body")]) == 1
    clock.advance(timedelta(hours=1))
    assert (await dispatch_due(gateway, CONFIG)).claimed == 0


# ---------------------------------------------------------------- cancel, reschedule, closure


async def test_cancelling_a_cita_cancels_its_reminders_and_says_so(client, fake, gateway):
    cita = await book(client)
    await dispatch_due(gateway, CONFIG)  # the confirmation
    response = await client.post(f"/api/appointments/{cita['code']}/cancel", json={"document": "1234567"})
    assert response.status_code == 200, response.text
    by_template = {m.template: m for m in await rows(cita["code"])}
    reminders = [m for m in await rows(cita["code"]) if m.template == "cita_recordatorio"]
    assert [m.status for m in reminders] == [MessageStatus.CANCELLED] * 2
    assert by_template["cita_confirmada"].status == MessageStatus.SENT  # already gone: left alone
    assert by_template["cita_cancelada"].status == MessageStatus.PENDING
    move_to(START)
    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    bodies = [r.one("Body") for r in fake.accepted]
    assert len(bodies) == 2
    assert bodies[1] == f"SEGIP: su cita {cita['code']} del mié 02/12 09:30 en SEGIP Zona Sur fue cancelada."


async def test_rescheduling_replans_the_reminders(client, fake, gateway):
    cita = await book(client)
    new_start = START + timedelta(days=1, hours=1)  # Thursday 10:30
    response = await client.post(f"/api/appointments/{cita['code']}/reschedule",
                                 json={"document": "1234567", "start": new_start.isoformat()})
    assert response.status_code == 200, response.text
    messages = await rows(cita["code"])
    live = [(m.template, m.send_at) for m in messages if m.status == MessageStatus.PENDING]
    utc = lambda at: at.astimezone(timezone.utc)  # noqa: E731
    assert live == [
        ("cita_reprogramada", utc(NOW)),
        ("cita_recordatorio", utc(new_start - timedelta(hours=24))),
        ("cita_recordatorio", utc(new_start - timedelta(hours=2))),
    ]
    # The first confirmation had not gone out yet: the new time replaces it.
    assert {m.template for m in messages if m.status == MessageStatus.CANCELLED} == {"cita_confirmada",
                                                                                   "cita_recordatorio"}
    assert (await dispatch_due(gateway, CONFIG)).sent == 1
    assert fake.accepted[0].one("Body").startswith(f"SEGIP: su cita {cita['code']} cambio al jue 03/12 10:30")
    move_to(START - timedelta(hours=2))  # the old reminder's time: nothing
    assert (await dispatch_due(gateway, CONFIG)).claimed == 0


async def test_an_office_closure_tells_each_citizen(client):
    cita = await book(client)
    other = await book(client, number="7654321", phone="60000001")
    office = await Office.get(code=OFFICE)
    user = await User.get(username="admin")
    admin = Principal(user.id, "admin", Role.ADMIN, None, None, 0.0)
    await add_closure(office, START.date(), "Inventario", admin, SchedulerConfig())
    for code in (cita["code"], other["code"]):
        templates = {m.template: m.status for m in await rows(code)}
        assert templates["cita_cancelada"] == MessageStatus.PENDING
        assert templates["cita_recordatorio"] == MessageStatus.CANCELLED


# ---------------------------------------------------------------- replies


async def test_a_signed_cancelar_cancels_the_senders_next_cita(client, fake, gateway):
    later = await book(client, START + timedelta(days=2), number="1234567")
    first_view = await book(client, START, number="5550001")  # same phone, the sooner one
    slot = await Slot.get(id=(await Appointment.get(code=first_view["code"])).slot_id)
    booked_before = slot.booked

    response = await reply(client, "Cancelar", "SM" + "a" * 32)
    assert response.status_code == 200, response.text
    cancelled = await Appointment.get(code=first_view["code"])
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert (await Appointment.get(code=later["code"])).status == AppointmentStatus.BOOKED  # only the next one
    assert (await Slot.get(id=slot.id)).booked == booked_before - 1
    event = await AppointmentEvent.get(appointment_id=cancelled.id, kind="cancelled")
    assert event.data["reason"] == "sms_reply"
    templates = {m.template: m.status for m in await rows(first_view["code"])}
    assert templates["cita_recordatorio"] == MessageStatus.CANCELLED
    assert templates["cita_cancelada"] == MessageStatus.PENDING  # the confirmation of the cancel
    inbound = await InboundMessage.get(provider_sid="SM" + "a" * 32)
    assert (inbound.action, inbound.appointment_id) == ("cancelled", cancelled.id)

    # Twilio retries the same webhook: nothing more is cancelled.
    assert (await reply(client, "Cancelar", "SM" + "a" * 32)).status_code == 200
    assert (await Appointment.get(code=later["code"])).status == AppointmentStatus.BOOKED


async def test_a_forged_cancelar_changes_nothing(client):
    cita = await book(client)
    response = await reply(client, "CANCELAR", "SM" + "b" * 32, signature="Zm9yZ2Vk")
    assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_signature"
    assert (await Appointment.get(code=cita["code"])).status == AppointmentStatus.BOOKED
    assert await InboundMessage.all().count() == 0


async def test_si_confirms_attendance_and_thanks(client):
    cita = await book(client)
    assert (await reply(client, "Sí", "SM" + "c" * 32, sender="whatsapp:" + PHONE)).status_code == 200
    appt = await Appointment.get(code=cita["code"])
    assert appt.status == AppointmentStatus.BOOKED
    event = await AppointmentEvent.get(appointment_id=appt.id, kind="attendance_confirmed")
    assert event.data == {"via": "whatsapp"}
    (thanks,) = [m for m in await rows(cita["code"]) if m.template == "cita_asistencia_confirmada"]
    assert thanks.to == PHONE and f"cita {cita['code']} del mié 02/12 09:30 quedo confirmada" in thanks.body


async def test_cancelar_after_the_cutoff_is_answered_and_changes_nothing(client):
    cita = await book(client)
    move_to(START - timedelta(hours=1))  # the cut-off is 2 h before
    assert (await reply(client, "CANCELAR", "SM" + "d" * 32)).status_code == 200
    assert (await Appointment.get(code=cita["code"])).status == AppointmentStatus.BOOKED
    (answer,) = [m for m in await rows(cita["code"]) if m.template == "cita_no_cancelable"]
    assert "ya no puede cancelarse" in answer.body
    assert (await InboundMessage.get(provider_sid="SM" + "d" * 32)).action == "too_late"
