"""Satisfaction (issue 20): a finished visit is rated 1–5 once — on its ticket page (JSON or
a plain form), by replying to the survey SMS (Twilio's signed inbound webhook), or on the
desk's tablet; the rating and its audit event are written together; staff reports per
service and operator, scoped to the office; the public figures and page show the
average and count only."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.conftest import assert_error, login
from tests.api.test_api_tickets import call_next, issue, open_desk
from tests.api.test_notifications_webhooks import INBOUND, PUBLIC, post_signed
from tests.api.test_pages import page_login
from tests.twilio_fake import AUTH_TOKEN
from turnero.core.models import User
from turnero.notifications.messages import render, sms_segments
from turnero.notifications.models import InboundMessage, OutboundMessage
from turnero.notifications.policy import NotificationConfig
from turnero.notifications.surveys import TEMPLATE, queue_surveys
from turnero.queue.models import SatisfactionRating, Ticket, TicketEvent
from turnero.queue.satisfaction import report_figures, score_from_reply, summarise
from tests.driver import app_settings
from turnero.settings import Settings

OFFICE = "LPZ-PRINCIPAL"
OTHER = "LPZ-ZONA-SUR"
PHONE = "+59171234567"


@pytest.fixture
def settings(database) -> Settings:
    # Twilio's webhooks are signed with this token, as seen at this public URL.
    return app_settings(database_url=database.url,
                    twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC)


@pytest.fixture
async def op(client) -> dict:
    return await login(client, "operador1")


async def finished(client, kiosk, op, desk="5", **fields) -> dict:
    """A fresh ticket, called at `desk` and finished there."""
    ticket = await issue(client, kiosk, **fields)
    await open_desk(client, op, desk)
    assert (await call_next(client, op, desk))["id"] == ticket["id"]
    response = await client.post(f"/api/tickets/{ticket['id']}/finish", headers=op)
    assert response.status_code == 200, response.text
    return response.json()


async def rate(client, public: str, score) -> object:
    return await client.post(f"/api/tickets/{public}/rating", json={"score": score})


# ---------------------------------------------------------------- pure


def test_a_reply_rates_only_when_it_is_one_digit_from_1_to_5():
    for body, score in (("4", 4), (" 5. ", 5), ("*1*", 1), ("3!", 3)):
        assert score_from_reply(body) == score, body
    for body in ("0", "6", "10", "4 o 5", "CANCELAR", "SI", "", "cinco", "5 estrellas", "١"):
        assert score_from_reply(body) is None, body


def test_summaries_count_average_and_distribution():
    assert summarise([]) == {"count": 0, "average": None, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    assert summarise([5, 4, 4, 1]) == {"count": 4, "average": 3.5,
                                       "distribution": {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1}}
    figures = report_figures([("CI-RENOV", "ana", 5), ("CI-RENOV", "luis", 3), ("CERT", "ana", 4),
                              ("CERT", None, 2)])
    assert figures["all"]["count"] == 4 and figures["all"]["average"] == 3.5
    assert figures["by_service"]["CI-RENOV"]["average"] == 4 and figures["by_service"]["CERT"]["count"] == 2
    assert figures["by_operator"] == {"ana": summarise([5, 4]), "luis": summarise([3])}


def test_the_survey_is_one_sms_segment_even_for_the_longest_names():
    body = render(TEMPLATE, {"institucion": "X" * 32, "numero": "LIC-NUEVA-999999"}, sms=True)
    assert sms_segments(body) == ("GSM-7", 1)
    assert "Responda 1 a 5" in body and "¿Como le atendimos?" in body


# ---------------------------------------------------------------- on the ticket page (API)


async def test_a_finished_visit_is_rated_once_with_its_desk_operator_and_audit(client, kiosk, op):
    ticket = await issue(client, kiosk)
    assert_error(await rate(client, ticket["id"], 4), 409, "ticket_not_finished")  # still waiting
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    assert_error(await rate(client, ticket["id"], 4), 409, "ticket_not_finished")  # at the desk
    assert (await client.post(f"/api/tickets/{ticket['id']}/finish", headers=op)).status_code == 200

    response = await rate(client, ticket["id"], 4)  # no login: the unguessable id is the key
    assert response.status_code == 201, response.text
    assert response.json() | {"created_at": None} == {"ticket": ticket["id"], "number": ticket["number"], "score": 4,
                                                      "label": "Bien", "channel": "page", "created_at": None}
    row = await SatisfactionRating.get(ticket__public_id=ticket["id"]).select_related("office", "service", "desk",
                                                                                       "operator")
    assert (row.office.code, row.service.code, row.desk.name, row.operator.username, row.score, row.channel) == (
        OFFICE, "CI-RENOV", "5", "operador1", 4, "page")
    event = await TicketEvent.get(ticket_id=row.ticket_id, kind="rated")
    assert event.data == {"score": 4, "channel": "page"}

    # Once only: a second rating (another score, or the same) is refused and changes nothing.
    assert_error(await rate(client, ticket["id"], 1), 409, "already_rated")
    assert (await SatisfactionRating.get(id=row.id)).score == 4
    assert await TicketEvent.filter(kind="rated").count() == 1


async def test_bad_ratings_are_refused_with_the_error_shape(client, kiosk, op):
    ticket = await finished(client, kiosk, op)
    for bad in (0, 6, -1, "4", 4.5, True, None, [4]):
        assert_error(await rate(client, ticket["id"], bad), 422, "validation_error")
    assert_error(await client.post(f"/api/tickets/{ticket['id']}/rating", json={}), 422, "validation_error")
    assert_error(await client.post(f"/api/tickets/{ticket['id']}/rating", content=b"{not json",
                                   headers={"Content-Type": "application/json"}), 400)
    assert_error(await rate(client, "no-such-ticket-000", 5), 404, "ticket_not_found")
    assert await SatisfactionRating.all().count() == 0


async def test_a_no_show_cannot_be_rated(client, kiosk, op):
    ticket = await issue(client, kiosk)
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    assert (await client.post(f"/api/tickets/{ticket['id']}/no-show", headers=op)).status_code == 200
    assert_error(await rate(client, ticket["id"], 5), 409, "ticket_not_finished")


# ---------------------------------------------------------------- the page, with and without JavaScript


async def test_the_ticket_page_offers_five_buttons_once_the_visit_is_over_and_the_form_works(client, kiosk, op):
    ticket = await issue(client, kiosk)
    page = (await client.get(f"/t/{ticket['id']}")).text
    assert re.search(r'<section class="card rating-card" id="valoracion"[^>]*hidden', page)  # waiting: hidden
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    await client.post(f"/api/tickets/{ticket['id']}/finish", headers=op)

    page = (await client.get(f"/t/{ticket['id']}")).text
    assert "¿Cómo le atendimos?" in page
    assert not re.search(r'id="valoracion"[^>]*hidden', page)
    assert len(re.findall(r'<button type="submit" name="score" value="[1-5]"', page)) == 5
    for label in ("Muy mal", "Mal", "Regular", "Bien", "Muy bien"):
        assert f'<span class="rating-label">{label}</span>' in page
    assert f'action="/t/{ticket["id"]}/valoracion"' in page
    assert "/static/js/satisfaction.js" in page and "style=" not in page

    # The plain form (no JavaScript): a bad value is refused, a good one rates and comes back.
    assert_error(await client.post(f"/t/{ticket['id']}/valoracion", data={"score": "9"}), 422)
    response = await client.post(f"/t/{ticket['id']}/valoracion", data={"score": "5"})
    assert response.status_code == 303 and response.headers["location"] == f"/t/{ticket['id']}#valoracion"
    page = (await client.get(f"/t/{ticket['id']}")).text
    assert "¡Gracias! Usted valoró su atención: 5 — Muy bien." in page and 'name="score"' not in page
    # Pressing again (a second tab) comes back to the same thanks; the score stays.
    assert (await client.post(f"/t/{ticket['id']}/valoracion", data={"score": "1"})).status_code == 303
    assert [r.score for r in await SatisfactionRating.all()] == [5]

    # With a session cookie (a staff member's phone) the form obeys the CSRF rule of every
    # cookie POST: another site's page cannot rate through it.
    other = await finished(client, kiosk, op)
    await page_login(client, "operador1")
    forged = await client.post(f"/t/{other['id']}/valoracion", data={"score": "1"},
                               headers={"Origin": "http://evil.example"})
    assert_error(forged, 403, "csrf_rejected")
    same = await client.post(f"/t/{other['id']}/valoracion", data={"score": "3"},
                             headers={"Origin": "http://testserver"})
    assert same.status_code == 303
    assert sorted(r.score for r in await SatisfactionRating.all()) == [3, 5]
    client.cookies.clear()


# ---------------------------------------------------------------- by SMS


async def test_a_finished_visit_with_a_phone_gets_one_survey_and_a_reply_rates_it(client, kiosk, op):
    with_phone = await finished(client, kiosk, op, phone="71234567")
    without = await finished(client, kiosk, op)
    assert await queue_surveys(NotificationConfig()) == 1
    assert await queue_surveys(NotificationConfig()) == 0  # once per ticket, whoever runs the job
    message = await OutboundMessage.get(template=TEMPLATE)
    assert message.to == PHONE and message.ticket_id == (await Ticket.get(public_id=with_phone["id"])).id
    assert "Responda 1 a 5" in message.body and with_phone["number"] in message.body
    assert sms_segments(message.body)[1] == 1
    assert not await OutboundMessage.filter(ticket__public_id=without["id"]).exists()

    # The reply, signed as Twilio signs it; "4." is a 4. No answer goes back (empty TwiML).
    before = await OutboundMessage.all().count()
    response = await post_signed(client, INBOUND, {"MessageSid": "SM" + "a" * 32, "From": PHONE, "Body": " 4. "})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml") and "<Message>" not in response.text
    rating = await SatisfactionRating.get(ticket__public_id=with_phone["id"])
    assert (rating.score, rating.channel) == (4, "sms")
    assert (await InboundMessage.get(provider_sid="SM" + "a" * 32)).action == "rated"
    assert (await TicketEvent.get(kind="rated")).data == {"score": 4, "channel": "sms"}
    assert await OutboundMessage.all().count() == before  # nothing sent back

    # A second digit: the visit is rated already, nothing else of this number to rate.
    await post_signed(client, INBOUND, {"MessageSid": "SM" + "b" * 32, "From": PHONE, "Body": "1"})
    assert (await InboundMessage.get(provider_sid="SM" + "b" * 32)).action == "nothing_to_rate"
    assert [r.score for r in await SatisfactionRating.all()] == [4]
    # Not a rating: "10" is recorded as an unknown command and rates nothing.
    await post_signed(client, INBOUND, {"MessageSid": "SM" + "c" * 32, "From": PHONE, "Body": "10"})
    assert (await InboundMessage.get(provider_sid="SM" + "c" * 32)).action == "unknown_command"
    # Unsigned: refused before anything is read.
    forged = await client.post(INBOUND, content=urlencode({"MessageSid": "SMx", "From": PHONE, "Body": "5"}),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(forged, 403, "invalid_signature")
    assert await SatisfactionRating.all().count() == 1


async def test_a_reply_rates_the_latest_unrated_visit_and_a_page_rating_stops_the_survey(client, kiosk, op):
    first = await finished(client, kiosk, op, phone="71234567")
    second = await finished(client, kiosk, op, phone="71234567")
    assert (await rate(client, second["id"], 2)).status_code == 201  # rated on its page first
    assert await queue_surveys(NotificationConfig()) == 1  # the first visit only
    assert (await OutboundMessage.get(template=TEMPLATE)).ticket_id == (await Ticket.get(public_id=first["id"])).id
    await post_signed(client, INBOUND, {"MessageSid": "SM" + "d" * 32, "From": PHONE, "Body": "5"})
    assert {r.ticket_id: r.score for r in await SatisfactionRating.all()} == {
        (await Ticket.get(public_id=first["id"])).id: 5, (await Ticket.get(public_id=second["id"])).id: 2}
    # Another number has nothing to rate.
    await post_signed(client, INBOUND, {"MessageSid": "SM" + "e" * 32, "From": "+59176543210", "Body": "5"})
    assert (await InboundMessage.get(provider_sid="SM" + "e" * 32)).action == "nothing_to_rate"


def test_the_survey_job_follows_its_setting():
    from types import SimpleNamespace

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from turnero.notifications import jobs

    for enabled in (True, False):
        settings = Settings(run_jobs=False, satisfaction_sms=enabled)
        scheduler = AsyncIOScheduler(timezone="UTC")
        app = SimpleNamespace(state=SimpleNamespace(settings=settings, queue_config=None,
                                                    notification_config=NotificationConfig.from_settings(settings)))
        jobs.register(scheduler, app)
        assert (scheduler.get_job("notifications.surveys") is not None) is enabled
    assert Settings().satisfaction_sms is True  # on by default


# ---------------------------------------------------------------- the desk's tablet


async def test_the_desk_tablet_asks_about_the_ticket_it_just_finished(client, kiosk, op):
    prompt = f"/api/offices/{OFFICE}/desks/5/rating"
    await open_desk(client, op, "5")
    assert (await client.get(prompt, headers=op)).json() == {"prompt": None}
    ticket = await finished(client, kiosk, op)
    shown = (await client.get(prompt, headers=op)).json()["prompt"]
    assert shown["ticket"] == ticket["id"] and shown["number"] == ticket["number"]
    # Another desk's tablet does not rate it; bad scores are refused.
    assert_error(await client.post(f"/api/offices/{OFFICE}/desks/11/rating",
                                   json={"ticket": ticket["id"], "score": 5}, headers=op), 404, "ticket_not_found")
    assert_error(await client.post(prompt, json={"ticket": ticket["id"], "score": 7}, headers=op), 422)
    response = await client.post(prompt, json={"ticket": ticket["id"], "score": 5}, headers=op)
    assert response.status_code == 201, response.text
    rating = await SatisfactionRating.get(ticket__public_id=ticket["id"])
    assert (rating.score, rating.channel) == (5, "desk")
    assert (await client.get(prompt, headers=op)).json() == {"prompt": None}
    assert_error(await client.post(prompt, json={"ticket": ticket["id"], "score": 5}, headers=op), 409,
                 "already_rated")
    # Staff of the desk's office only.
    assert_error(await client.get(f"/api/offices/{OTHER}/desks/1/rating", headers=op), 403)
    assert_error(await client.get(prompt, headers=kiosk), 403)
    assert_error(await client.get(prompt), 401)
    # The tablet's page.
    await page_login(client, "operador1")
    page = await client.get(f"/desk/{OFFICE}/5/valoracion")
    assert page.status_code == 200 and "¿Cómo le atendimos?" in page.text and "/static/js/desk-rating.js" in page.text
    assert len(re.findall(r'data-score="[1-5]"', page.text)) == 5
    assert f"/desk/{OFFICE}/5/valoracion" in (await client.get(f"/desk/{OFFICE}")).text  # linked from the desk list
    assert (await client.get(f"/desk/{OFFICE}/99/valoracion")).status_code == 404


# ---------------------------------------------------------------- reports


async def test_the_report_groups_per_service_and_operator_and_stays_in_its_office(client, kiosk, op):
    op2 = await login(client, "operador2")
    scores = []
    for headers, desk, score in ((op, "5", 5), (op, "5", 4), (op2, "11", 2)):
        ticket = await finished(client, kiosk, headers, desk=desk)
        assert (await rate(client, ticket["id"], score)).status_code == 201
        scores.append(score)
    supervisor = await login(client, "supervisor")
    response = await client.get(f"/api/offices/{OFFICE}/satisfaction", headers=supervisor)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["all"] == {"count": 3, "average": 3.67, "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}}
    assert report["by_service"]["CI-RENOV"]["count"] == 3
    assert report["by_operator"]["operador1"] == {"count": 2, "average": 4.5,
                                                  "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}}
    assert report["by_operator"]["operador2"]["average"] == 2
    assert report["service_names"]["CI-RENOV"]
    csv_lines = (await client.get(f"/api/offices/{OFFICE}/satisfaction.csv", headers=supervisor)).text.splitlines()
    assert csv_lines[0] == "grupo,nombre,valoraciones,media,puntos_1,puntos_2,puntos_3,puntos_4,puntos_5"
    assert csv_lines[1] == f"oficina,{OFFICE},3,3.67,0,1,0,1,1"
    assert "operador,operador1,2,4.5,0,0,0,1,1" in csv_lines
    # The supervisor's report page shows it too (same period).
    await page_login(client, "supervisor")
    page = (await client.get(f"/admin/offices/{OFFICE}/report")).text
    assert "Valoración de la atención" in page and 'id="satisfaction"' in page
    assert "Operador operador1</td><td>2</td><td>4.50</td>" in page
    client.cookies.clear()
    # A period with nothing in it; bad dates.
    empty = (await client.get(f"/api/offices/{OFFICE}/satisfaction?from=2020-01-01&to=2020-01-31",
                              headers=supervisor)).json()
    assert empty["all"]["count"] == 0 and empty["all"]["average"] is None and empty["by_operator"] == {}
    for query in ("from=ayer", "from=2026-12-05&to=2026-12-01", "from=2020-01-01&to=2026-12-01"):
        assert_error(await client.get(f"/api/offices/{OFFICE}/satisfaction?{query}", headers=supervisor), 422)
    # Scoping: operators do not see it, another office's staff neither; admins see every office.
    assert_error(await client.get(f"/api/offices/{OFFICE}/satisfaction", headers=op), 403)
    assert_error(await client.get(f"/api/offices/{OTHER}/satisfaction", headers=supervisor), 403)
    assert_error(await client.get(f"/api/offices/{OTHER}/satisfaction.csv", headers=supervisor), 403)
    assert_error(await client.get(f"/api/offices/{OFFICE}/satisfaction"), 401)
    admin = await login(client, "admin")
    assert (await client.get(f"/api/offices/{OTHER}/satisfaction", headers=admin)).json()["all"]["count"] == 0
    assert_error(await client.get("/api/offices/NOPE/satisfaction", headers=admin), 404, "office_not_found")


# ---------------------------------------------------------------- public figures and page


async def test_public_figures_and_page_show_the_average_and_nobody(client, kiosk, op):
    for score in (5, 4):
        ticket = await finished(client, kiosk, op, phone="71234567")
        assert (await rate(client, ticket["id"], score)).status_code == 201
    figures = (await client.get(f"/api/offices/{OFFICE}/statistics")).json()
    assert figures["satisfaction"]["count"] == 2 and figures["satisfaction"]["average"] == 4.5
    csv_text = (await client.get(f"/api/offices/{OFFICE}/statistics.csv")).text
    assert "valoraciones,valoracion_media" in csv_text and csv_text.strip().endswith(",2,4.5")

    response = await client.get(f"/oficinas/{OFFICE}/estadisticas")
    assert response.status_code == 200
    page = response.text
    assert "Espera por hora del día" in page and "Valoración de la atención" in page and "4,5 de 5" in page
    assert "Esperando ahora" in page and f"/api/offices/{OFFICE}/statistics.csv" in page
    # Nothing personal, and nothing inline for the CSP to refuse.
    operator = await User.get(username="operador1")
    for private in ("71234567", "operador1", operator.full_name, ticket["number"], ticket["id"]):
        assert private not in page and private not in csv_text
    assert "style=" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "/oficinas/" + OFFICE + "/estadisticas" in (await client.get("/")).text  # linked from home
    missing = await client.get("/oficinas/NOPE/estadisticas")
    assert missing.status_code == 404 and "NOPE" in missing.text
