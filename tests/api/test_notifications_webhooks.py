"""Twilio's webhooks through the whole app: signatures checked with the library's
RequestValidator against the public URL, delivery statuses, replies."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from tortoise.transactions import in_transaction

from tests.twilio_fake import AUTH_TOKEN, TwilioFake
from turnero.notifications import outbox
from turnero.notifications.models import InboundMessage, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig
from tests.driver import app_settings
from turnero.settings import Settings

PUBLIC = "https://turnero.example.bo"
STATUS = "/api/notifications/twilio/status"
INBOUND = "/api/notifications/twilio/inbound"
PHONE = "+59171234567"
SIGNER = TwilioFake.__new__(TwilioFake)  # only its sign(); no server needed here
SIGNER.auth_token = AUTH_TOKEN


@pytest.fixture
def settings(database) -> Settings:
    return app_settings(database_url=database.url,
                    twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC)


async def post_signed(client, path: str, params: dict, *, query: str = "", token: str | None = None,
                      signed_url: str | None = None):
    url = path + (f"?{query}" if query else "")
    signer = SIGNER if token is None else _signer(token)
    signature = signer.sign(signed_url or PUBLIC + url, params)
    return await client.post(
        url, content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def _signer(token: str) -> TwilioFake:
    signer = TwilioFake.__new__(TwilioFake)
    signer.auth_token = token
    return signer


def assert_forbidden(response):
    assert response.status_code == 403, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "invalid_signature"
    assert "Twilio" in body["error"]["message"]


async def sent_message(sid: str = "SM" + "1" * 32) -> OutboundMessage:
    async with in_transaction() as conn:
        row = await outbox.enqueue(conn, NotificationConfig(), to=PHONE, template="sin_cita", context={}, dedupe_key=f"m:{sid}")
    await OutboundMessage.filter(id=row).update(status=MessageStatus.SENT, provider_sid=sid)
    return await OutboundMessage.get(id=row)


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize("path", [STATUS, INBOUND])
async def test_unsigned_and_forged_requests_are_refused(client, path):
    message = await sent_message()
    params = {"MessageSid": message.provider_sid, "MessageStatus": "delivered", "From": PHONE, "Body": "CANCELAR"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_forbidden(await client.post(path, content=urlencode(params), headers=form))
    assert_forbidden(await client.post(path, content=urlencode(params), headers={**form, "X-Twilio-Signature": "x"}))
    # Signed with another account's token, for another URL, or then altered on the way:
    assert_forbidden(await post_signed(client, path, params, token="not-our-token"))
    assert_forbidden(await post_signed(client, path, params, signed_url="https://evil.example" + path))
    good = SIGNER.sign(PUBLIC + path, params)
    tampered = urlencode({**params, "MessageStatus": "failed", "Body": "SI"})
    assert_forbidden(await client.post(path, content=tampered, headers={**form, "X-Twilio-Signature": good}))
    assert_forbidden(await client.post(path, content=b"\xff\xfe", headers={**form, "X-Twilio-Signature": good}))
    # Nothing changed.
    assert (await OutboundMessage.get(id=message.id)).delivery_status is None
    assert await InboundMessage.all().count() == 0


async def test_without_twilio_configured_every_webhook_is_refused(database, tmp_path):
    import httpx

    from turnero.app import create_app

    app = create_app(app_settings(database_url=database.url, public_url=PUBLIC))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await post_signed(client, STATUS, {"MessageSid": "SM1", "MessageStatus": "sent"})
    assert_forbidden(response)


# ---------------------------------------------------------------- status callbacks


async def test_status_callbacks_move_delivery_forward_only(client):
    message = await sent_message()
    sid = message.provider_sid
    response = await post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "sent", "AccountSid": "AC1"},
                                 query=f"id={message.id}")
    assert response.status_code == 204, response.text
    row = await OutboundMessage.get(id=message.id)
    assert (row.status, row.delivery_status) == (MessageStatus.SENT, "sent")

    assert (await post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "delivered"})).status_code == 204
    row = await OutboundMessage.get(id=message.id)
    assert (row.status, row.delivery_status) == (MessageStatus.DELIVERED, "delivered")
    # A late "sent" (Twilio does not promise order) does not undo "delivered".
    assert (await post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "sent"})).status_code == 204
    assert (await OutboundMessage.get(id=message.id)).delivery_status == "delivered"


async def test_undelivered_keeps_the_error_code(client):
    message = await sent_message("SM" + "2" * 32)
    params = {"MessageSid": message.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert (await post_signed(client, STATUS, params)).status_code == 204
    row = await OutboundMessage.get(id=message.id)
    assert row.status == MessageStatus.UNDELIVERED and "30003" in row.last_error


async def test_a_callback_before_the_sid_is_recorded_finds_the_message_by_id(client):
    async with in_transaction() as conn:
        row = await outbox.enqueue(conn, NotificationConfig(), to=PHONE, template="sin_cita", context={}, dedupe_key="early")
    await OutboundMessage.filter(id=row).update(status=MessageStatus.SENDING)
    params = {"MessageSid": "SM" + "3" * 32, "MessageStatus": "queued"}
    assert (await post_signed(client, STATUS, params, query=f"id={row}")).status_code == 204
    assert (await OutboundMessage.get(id=row)).delivery_status == "queued"


async def test_a_callback_for_an_unknown_message_is_acknowledged(client):
    response = await post_signed(client, STATUS, {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"},
                                 query="id=999999")
    assert response.status_code == 204


async def test_a_signed_but_invalid_callback_is_422(client):
    response = await post_signed(client, STATUS, {"MessageSid": "SM1", "MessageStatus": "teleported"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    response = await post_signed(client, STATUS, {"MessageStatus": "sent"})
    assert response.status_code == 422


# ---------------------------------------------------------------- replies


async def test_a_reply_without_a_cita_is_answered_once(client):
    params = {"MessageSid": "SM" + "4" * 32, "From": PHONE, "To": "+15005550006", "Body": "Sí"}
    for _ in range(2):  # Twilio retries a webhook that timed out: same MessageSid
        response = await post_signed(client, INBOUND, params)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert "<Response>" in response.text
    (inbound,) = await InboundMessage.all()
    assert (inbound.from_number, inbound.action, inbound.body) == (PHONE, "no_appointment", "Sí")
    (answer,) = await OutboundMessage.filter(template="sin_cita")
    assert answer.to == PHONE and answer.status == MessageStatus.PENDING


async def test_an_unknown_reply_is_recorded_without_an_answer(client):
    params = {"MessageSid": "SM" + "5" * 32, "From": "whatsapp:" + PHONE, "Body": "hola, a qué hora abren?"}
    assert (await post_signed(client, INBOUND, params)).status_code == 200
    (inbound,) = await InboundMessage.all()
    assert (inbound.channel, inbound.action) == ("whatsapp", "unknown_command")
    assert await OutboundMessage.all().count() == 0


async def test_webhooks_are_in_the_openapi_document(client):
    spec = (await client.get("/openapi.json")).json()
    assert "403" in spec["paths"][STATUS]["post"]["responses"]
    assert "204" in spec["paths"][STATUS]["post"]["responses"]
    assert "403" in spec["paths"][INBOUND]["post"]["responses"]
