"""Pure rules of the notifications domain: channels, retries, reminder times, replies,
and message texts that fit one SMS."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnero.demo import OFFICES
from turnero.notifications import policy
from turnero.notifications.messages import TEMPLATES, is_gsm7, render, shorter_office_names, sms_segments, to_gsm7
from turnero.notifications.models import Channel
from turnero.settings import Settings

T0 = datetime(2026, 11, 25, 13, 30, tzinfo=timezone.utc)  # 09:30 in La Paz


def test_channel_rules_most_specific_wins():
    rules = policy.parse_channel_rules(
        "LPZ-PRINCIPAL=whatsapp, */EXAM-TEORICO=sms, lpz-principal/cert=sms, LPZ-DIGEMIG/*=whatsapp"
    )
    choose = lambda office, service: policy.choose_channel(rules, Channel.SMS, office, service)  # noqa: E731
    assert choose("LPZ-PRINCIPAL", "CI-RENOV") == Channel.WHATSAPP  # office rule
    assert choose("LPZ-PRINCIPAL", "CERT") == Channel.SMS  # office+service beats office
    assert choose("LPZ-PRINCIPAL", "EXAM-TEORICO") == Channel.SMS  # service beats office
    assert choose("LPZ-DIGEMIG", None) == Channel.WHATSAPP
    assert choose("LPZ-ZONA-SUR", "CI-RENOV") == Channel.SMS  # default
    assert choose(None, None) == Channel.SMS


@pytest.mark.parametrize("raw", ["LPZ-PRINCIPAL", "LPZ-PRINCIPAL=telegram", "=x"])
def test_malformed_channel_rules_are_refused(raw):
    with pytest.raises(ValueError):
        policy.parse_channel_rules(raw)


def test_config_from_settings():
    config = policy.NotificationConfig.from_settings(
        Settings(notify_channel="whatsapp", notify_channels="LPZ-ZONA-SUR=sms", reminder_hours="2, 48,24",
                 near_turn_position=5, near_turn_minutes=7, notify_max_attempts=3, public_url="https://t.bo/")
    )
    assert config.reminder_hours == (48.0, 24.0, 2.0)
    assert config.channel_for("LPZ-PRINCIPAL", "CI-RENOV") == Channel.WHATSAPP
    assert config.channel_for("LPZ-ZONA-SUR", "CI-RENOV") == Channel.SMS
    assert (config.near_turn_position, config.near_turn_minutes, config.max_attempts) == (5, 7, 3)
    assert config.public_url == "https://t.bo"
    with pytest.raises(ValueError):
        policy.NotificationConfig.from_settings(Settings(reminder_hours="24,-2"))


def test_backoff_doubles_up_to_the_cap():
    base, cap = timedelta(seconds=30), timedelta(minutes=5)
    waits = [policy.backoff(n, base, cap) for n in range(1, 8)]
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert waits[4:] == [cap] * 3


def test_reminders_still_ahead_are_planned():
    hours = (24.0, 2.0)
    three_days = policy.reminder_times(T0, T0 - timedelta(days=3), hours)
    assert three_days == [(24.0, T0 - timedelta(hours=24)), (2.0, T0 - timedelta(hours=2))]
    assert policy.reminder_times(T0, T0 - timedelta(hours=5), hours) == [(2.0, T0 - timedelta(hours=2))]
    assert policy.reminder_times(T0, T0 - timedelta(hours=1), hours) == []


@pytest.mark.parametrize(
    "position, minutes, near",
    [(1, 3, True), (3, 40, True), (4, 10, True), (4, 11, False), (9, None, False), (2, None, True)],
)
def test_near_is_position_or_estimated_wait(position, minutes, near):
    assert policy.is_near(position, minutes, max_position=3, max_minutes=10) is near


@pytest.mark.parametrize(
    "body, command",
    [
        ("CANCELAR", policy.CANCEL), ("cancelar", policy.CANCEL), ("  Cancelar por favor", policy.CANCEL),
        ("SI", policy.CONFIRM), ("Sí.", policy.CONFIRM), ("si!", policy.CONFIRM), ("¡Sí!", policy.CONFIRM),
        ("", None), ("hola", None), ("no", None), ("sin", None), ("🙂", None),
    ],
)
def test_replies_are_read_leniently(body, command):
    assert policy.parse_reply(body) == command


def test_split_address():
    assert policy.split_address("whatsapp:+59171234567") == (Channel.WHATSAPP, "+59171234567")
    assert policy.split_address("+59171234567") == (Channel.SMS, "+59171234567")


def test_delivery_status_never_goes_back():
    assert policy.delivery_rank("delivered") > policy.delivery_rank("sent") > policy.delivery_rank("queued")
    assert policy.delivery_rank("read") > policy.delivery_rank("delivered")
    assert policy.delivery_rank(None) < policy.delivery_rank("queued")


# ---------------------------------------------------------------- texts


def test_gsm7_transliteration_keeps_what_gsm_has():
    text = "Acérquese, cancelación — “sí”… ¿mañana? ¡Ñandú!"
    assert to_gsm7(text) == 'Acérquese, cancelacion - "si"... ¿mañana? ¡Ñandu!'
    assert sms_segments("a" * 160) == ("GSM-7", 1)
    assert sms_segments("a" * 161) == ("GSM-7", 2)
    assert sms_segments("€" * 80) == ("GSM-7", 1)  # extension characters take two septets
    assert sms_segments("á" * 70) == ("UCS-2", 1)
    assert sms_segments("á" * 71) == ("UCS-2", 2)


@given(st.text(max_size=200))
def test_any_text_becomes_gsm7(text):
    assert is_gsm7(to_gsm7(text))


def _contexts(office_name: str, institution: str) -> dict[str, dict]:
    cita = {"institucion": institution, "codigo": "K7Q-42XM", "oficina": office_name, "dia": "mié 25/11",
            "hora": "09:30"}
    return {
        "cita_confirmada": cita, "cita_recordatorio": {**cita, "cuando": "mañana"}, "cita_cancelada": cita,
        "cita_reprogramada": cita, "cita_asistencia_confirmada": cita, "cita_no_cancelable": cita, "sin_cita": {},
        "turno_cerca": {"institucion": institution, "oficina": office_name, "numero": "C-123", "delante": 3,
                        "minutos": 14},
        "turno_llamado": {"institucion": institution, "numero": "C-123", "ventanilla": "24"},
        "encuesta_satisfaccion": {"institucion": institution, "numero": "C-123"},
        "resultado_examen": {"institucion": institution, "categoria": "P", "aprobado": False, "correctas": 28,
                             "total": 40},
    }


@pytest.mark.parametrize("office", OFFICES, ids=lambda o: o.code)
def test_every_sms_fits_one_gsm7_segment(office):
    contexts = _contexts(office.name, office.institution)
    assert set(contexts) == set(TEMPLATES)
    for template, context in contexts.items():
        sms = render(template, context, sms=True)
        assert sms_segments(sms) == ("GSM-7", 1), (template, len(sms), sms)
        whatsapp = render(template, context, sms=False)
        # The same words, with accents on WhatsApp; a long office name is shortened on SMS only.
        names = [office.name, *shorter_office_names(office.name)]
        assert any(to_gsm7(render(template, {**context, "oficina": name}, sms=False)) == sms for name in names)
        assert to_gsm7(whatsapp) == sms or "oficina" in context


def test_a_long_office_name_is_shortened_on_sms_only_as_far_as_it_must():
    context = {"institucion": "SEGELIC", "oficina": "SEGELIC Oficina Principal - Licencias de conducir",
               "numero": "C-123", "delante": 9, "minutos": 130, "minimo": 100, "maximo": 165}
    sms = render("turno_cerca", context, sms=True)
    assert "en SEGELIC Oficina Principal: faltan 9 turnos" in sms and sms_segments(sms) == ("GSM-7", 1)
    assert "Licencias de conducir" in render("turno_cerca", context, sms=False)
    assert "Licencias de conducir" in render("turno_cerca", context, sms=True, shorten=False)
    short = {**context, "oficina": "SEGIP Zona Sur"}
    assert "en SEGIP Zona Sur:" in render("turno_cerca", short, sms=True)  # short names are left alone
    assert list(shorter_office_names("DIGEMIG — Administración Departamental La Paz"))[0] == "DIGEMIG"


@pytest.mark.parametrize("office", OFFICES, ids=lambda o: o.code)
def test_the_fee_is_told_only_when_the_confirmation_still_fits_one_segment(office):
    from turnero.notifications.service import _confirmation_context

    cita = _contexts(office.name, office.institution)["cita_confirmada"]
    context = _confirmation_context(cita, "Bs 548")
    sms = render("cita_confirmada", context, sms=True)
    assert sms_segments(sms) == ("GSM-7", 1)
    # The SEGIP offices' names leave room; SEGELIC's and DIGEMIG's long ones do not.
    assert ("y el pago (Bs 548)" in sms) == (office.institution == "SEGIP")
    assert "y el pago" not in render("cita_confirmada", _confirmation_context(cita, None), sms=True)


def test_texts_say_what_happened():
    ctx = _contexts("SEGIP Zona Sur", "SEGIP")
    called = render("turno_llamado", ctx["turno_llamado"], sms=False)
    assert called == "SEGIP: es su turno C-123. Pase a la ventanilla 24."
    near = render("turno_cerca", {**ctx["turno_cerca"], "delante": 0, "minutos": 0}, sms=False)
    assert "es el siguiente" in near and "min" not in near
    assert "faltan 3 turnos (unos 14 min)" in render("turno_cerca", ctx["turno_cerca"], sms=False)
    assert "falta 1 turno" in render("turno_cerca", {**ctx["turno_cerca"], "delante": 1}, sms=False)
    reminder = render("cita_recordatorio", ctx["cita_recordatorio"], sms=False)
    assert "mañana mié 25/11 09:30" in reminder and "SI" in reminder and "CANCELAR" in reminder
    assert "APROBADO (38/40)." in render("resultado_examen", {**ctx["resultado_examen"], "aprobado": True,
                                                             "correctas": 38}, sms=False)
    with pytest.raises(Exception):
        render("turno_llamado", {"numero": "C-1"}, sms=True)  # a missing value is an error, not a blank


# ---------------------------------------------------------------- exactly once


def test_a_lease_outlives_three_send_timeouts_and_is_renewed_three_times_in_it():
    assert policy.lease_for(10, 120) == timedelta(minutes=2)
    assert policy.lease_for(60, 120) == timedelta(minutes=3)  # a long timeout lengthens the lease
    assert policy.renew_every(timedelta(minutes=2)) == 40
    with pytest.raises(ValueError):
        policy.lease_for(0, 120)
    config = policy.NotificationConfig.from_settings(
        Settings(notify_send_timeout_seconds=50, notify_lease_seconds=30, notify_concurrency=0)
    )
    assert config.send_timeout == 50 and config.lease == timedelta(seconds=150) and config.concurrency == 1


def test_the_providers_record_of_our_message_is_told_by_recipient_text_and_callback_id():
    ours = {"sid": "SM1", "to": "+59171234567", "body": "es su turno",
            "status_callback": "https://t.bo/api/notifications/twilio/status?id=42"}
    listed = [
        {**ours, "sid": "SM0", "to": "+59170000000"},  # another number
        {**ours, "sid": "SM2", "body": "otro texto"},
        {**ours, "sid": "SM3", "status_callback": "https://t.bo/api/notifications/twilio/status?id=421"},
        ours,
        {**ours, "sid": "SM4", "status_callback": None},  # a provider that does not show it
    ]
    assert policy.find_ours(listed, to="+59171234567", body="es su turno", message_id=42) == ["SM1", "SM4"]
    assert policy.find_ours([], to="+59171234567", body="x", message_id=1) == []
    assert policy.recheck_since(T0) == T0 - policy.CLOCK_SKEW
