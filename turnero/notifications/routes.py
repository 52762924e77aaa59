"""Twilio's webhooks: delivery status callbacks and citizens' replies.

Twilio posts form-encoded bodies and signs each request (X-Twilio-Signature: an
HMAC of the full URL it called and the form fields, keyed with the account's auth
token). Every request is checked with the library's RequestValidator against the
public URL (TURNERO_PUBLIC_URL: what Twilio sees, not what a proxy forwards) before
anything is read from it; an unsigned or forged one gets 403.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

from turnero.core.api import ApiDoc, api_route
from turnero.core.errors import ApiError, invalid
from turnero.core.http import MAX_BODY_BYTES, describe_validation_error
from turnero.notifications import replies, service
from turnero.notifications.gateways import INBOUND_PATH, STATUS_CALLBACK_PATH
from turnero.notifications.schemas import InboundMessageForm, StatusCallback
from turnero.scheduler.config import config_of

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "invalid_signature", message)


def public_request_url(request: Request) -> str:
    """The URL Twilio called: TURNERO_PUBLIC_URL (when set) with this path and query."""
    base = request.app.state.settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


async def verified_form(request: Request) -> ImmutableMultiDict:
    """The form fields of a request Twilio signed; 403 for anything else."""
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        raise _forbidden("Falta la firma de Twilio (X-Twilio-Signature).")
    token = request.app.state.settings.twilio_auth_token
    if not token:
        raise _forbidden("Este servidor no tiene Twilio configurado (TWILIO_AUTH_TOKEN).")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "La solicitud es demasiado grande.")
    try:
        form = ImmutableMultiDict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        raise _forbidden("Firma de Twilio inválida.") from None
    if not RequestValidator(token).validate(public_request_url(request), form, signature):
        raise _forbidden("Firma de Twilio inválida.")
    return form


def _parse(schema, form: ImmutableMultiDict):
    try:
        return schema.model_validate(dict(form.items()))
    except ValidationError as exc:
        raise invalid(describe_validation_error(exc)) from None


async def status_callback(request: Request):
    form = _parse(StatusCallback, await verified_form(request))
    raw_id = request.query_params.get("id", "")
    message_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 19 else None
    await service.record_delivery(
        message_id=message_id, provider_sid=form.MessageSid, status=form.MessageStatus, error_code=form.ErrorCode
    )
    # Unknown messages are acknowledged too: Twilio would only retry them.
    return Response(status_code=204)


async def inbound_message(request: Request):
    form = _parse(InboundMessageForm, await verified_form(request))
    await replies.handle_reply(
        provider_sid=form.MessageSid, from_address=form.From, body=form.Body,
        config=request.app.state.notification_config, scheduler_config=config_of(request.app),
    )
    # The answer (if any) goes out through the outbox, not as TwiML.
    return Response(_EMPTY_TWIML, media_type="text/xml")


routes = [
    api_route(
        STATUS_CALLBACK_PATH, "POST", status_callback,
        ApiDoc(
            "Twilio: estado de entrega de un mensaje (formulario firmado con X-Twilio-Signature)",
            "notifications", success_status=204, errors=(403, 413, 422),
            query={"id": "número del mensaje en la bandeja de salida (lo pone Turnero)"},
        ),
    ),
    api_route(
        INBOUND_PATH, "POST", inbound_message,
        ApiDoc(
            "Twilio: respuesta de un ciudadano por SMS o WhatsApp (CANCELAR, SI);"
            " formulario firmado con X-Twilio-Signature",
            "notifications", errors=(403, 413, 422),
        ),
    ),
]
