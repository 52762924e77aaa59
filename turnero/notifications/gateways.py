"""Message gateways behind one interface: the console (logs, the default) and Twilio.

A gateway's `send` returns the provider's message id or raises SendError saying
whether trying again later could help (provider outage, rate limit, network) or not
(an invalid number, a refused sender), and whether the provider may have accepted it
all the same (`unsure`: a timeout or a dropped connection after the request left).
`find_sent` asks the provider whether such a message went out (see dispatcher.py).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiohttp

from turnero.notifications.models import Channel
from turnero.notifications.policy import find_ours
from turnero.settings import Settings

log = logging.getLogger("turnero.notifications")

STATUS_CALLBACK_PATH = "/api/notifications/twilio/status"
INBOUND_PATH = "/api/notifications/twilio/inbound"


@dataclass(frozen=True)
class Outgoing:
    id: int
    to: str  # E.164
    channel: Channel
    body: str


class SendError(Exception):
    def __init__(self, message: str, *, retryable: bool, code: str | None = None, unsure: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.code = code
        self.unsure = unsure  # the provider may have accepted it: ask before sending again


class Gateway(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str: ...

    async def find_sent(self, message: Outgoing, since: datetime) -> list[str]: ...

    async def aclose(self) -> None: ...


class ConsoleGateway:
    """Logs each message instead of sending it: the default, needs no account."""

    name = "console"

    async def send(self, message: Outgoing) -> str:
        log.info("[%s a %s] %s", message.channel.value.upper(), message.to, message.body)
        return f"console-{message.id}"

    async def find_sent(self, message: Outgoing, since: datetime) -> list[str]:
        return []  # a log line cannot have been half sent

    async def aclose(self) -> None:
        return None


class TwilioGateway:
    """Sends through Twilio's Messages API with the official library's async client.

    `api_base_url` replaces https://api.twilio.com (a regional proxy, or the loopback
    fake the tests run); `public_url` is where Twilio posts delivery status callbacks."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sms_from: str = "",
        messaging_service_sid: str = "",
        whatsapp_from: str = "",
        public_url: str = "",
        api_base_url: str = "",
        timeout: float = 10.0,
    ):
        if not (account_sid and auth_token):
            raise ValueError("Twilio necesita TWILIO_ACCOUNT_SID y TWILIO_AUTH_TOKEN")
        if not (sms_from or messaging_service_sid):
            raise ValueError("Twilio necesita TWILIO_FROM o TWILIO_MESSAGING_SERVICE_SID")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.sms_from = sms_from
        self.messaging_service_sid = messaging_service_sid
        self.whatsapp_from = whatsapp_from
        self.public_url = public_url.rstrip("/")
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self._client = None

    def _twilio(self):
        # Built on first use, inside the running loop (aiohttp's session wants one).
        if self._client is None:
            from twilio.rest import Client

            http = _TimedHttpClient(timeout=self.timeout)
            self._client = Client(self.account_sid, self._auth_token, http_client=http)
            if self.api_base_url:
                self._client.api.base_url = self.api_base_url
        return self._client

    def _sender(self, channel: Channel) -> dict:
        if channel == Channel.WHATSAPP:
            if self.whatsapp_from:
                return {"from_": _whatsapp(self.whatsapp_from)}
            if self.messaging_service_sid:  # a service with a WhatsApp sender in its pool
                return {"messaging_service_sid": self.messaging_service_sid}
            raise SendError("Falta TWILIO_WHATSAPP_FROM para enviar por WhatsApp", retryable=False)
        if self.messaging_service_sid:
            return {"messaging_service_sid": self.messaging_service_sid}
        return {"from_": self.sms_from}

    def _address(self, message: Outgoing) -> str:
        return _whatsapp(message.to) if message.channel == Channel.WHATSAPP else message.to

    async def send(self, message: Outgoing) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        extra = {}
        if self.public_url:
            extra["status_callback"] = f"{self.public_url}{STATUS_CALLBACK_PATH}?id={message.id}"
        sender = self._sender(message.channel)
        try:
            async with asyncio.timeout(self.timeout + 1):  # a guard, should the client's own fail
                created = await self._twilio().messages.create_async(
                    to=self._address(message), body=message.body, **sender, **extra
                )
        except TwilioRestException as exc:
            # 429 and 5xx are the provider's trouble and pass; any other 4xx (invalid
            # number, unverified sender …) will be refused again.
            retryable = exc.status == 429 or exc.status >= 500
            raise SendError(f"Twilio {exc.status} ({exc.code}): {exc.msg}", retryable=retryable,
                            code=str(exc.code or exc.status)) from None
        except TwilioException as exc:
            raise SendError(f"Twilio: {exc}", retryable=True, unsure=True) from None
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing left
            raise SendError(f"sin conexión con Twilio: {exc!r}", retryable=True) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # The request may have reached Twilio: whether it was accepted is unknown.
            raise SendError(f"sin respuesta de Twilio: {exc!r}", retryable=True, unsure=True) from None
        return created.sid

    async def find_sent(self, message: Outgoing, since: datetime) -> list[str]:
        """Sids of what Twilio sent to this number since `since` that may be this
        message (Messages list by To and DateSent>); SendError if Twilio cannot be asked."""
        from twilio.base.exceptions import TwilioException

        to = self._address(message)
        records: list[dict] = []
        try:
            async with asyncio.timeout((self.timeout + 1) * 3):
                page = await self._twilio().messages.page_async(to=to, date_sent_after=since, page_size=100)
                for _ in range(10):  # one number's messages in a few minutes: one page, in practice
                    # The raw records (the library's instances drop fields it does not know).
                    records.extend(page.load_page(page._payload))
                    page = await page.next_page_async()
                    if page is None:
                        break
        except (TwilioException, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise SendError(f"no se pudo consultar Twilio: {exc!r}", retryable=True, unsure=True) from None
        return find_ours(records, to=to, body=message.body, message_id=message.id)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None


def _timed_client_class():
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    class TimedHttpClient(AsyncTwilioHttpClient):
        """The library's async client keeps `timeout` but never uses it (aiohttp's 300 s
        default applied): every request gets it unless it names its own."""

        async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                          allow_redirects=False):
            if auth is not None:  # as a header: aiohttp deprecates its `auth` argument
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                headers = {**(headers or {}), "Authorization": f"Basic {token}"}
            return await super().request(method, url, params=params, data=data, headers=headers, auth=None,
                                         timeout=timeout if timeout is not None else self.timeout,
                                         allow_redirects=allow_redirects)

    return TimedHttpClient


def _TimedHttpClient(timeout: float):  # noqa: N802 (built lazily: twilio is imported on first use)
    return _timed_client_class()(timeout=timeout)


def _whatsapp(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def twilio_configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def build_gateway(settings: Settings) -> Gateway:
    """The gateway the settings ask for: TURNERO_NOTIFY_GATEWAY=console|twilio, or
    "auto" (twilio when an account sid and token are set, else console)."""
    choice = settings.notify_gateway
    if choice == "auto":
        choice = "twilio" if twilio_configured(settings) else "console"
    if choice == "console":
        return ConsoleGateway()
    if choice == "twilio":
        return TwilioGateway(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            sms_from=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            whatsapp_from=settings.twilio_whatsapp_from,
            public_url=settings.public_url,
            api_base_url=settings.twilio_api_base_url,
            timeout=settings.notify_send_timeout_seconds,
        )
    raise ValueError(f"TURNERO_NOTIFY_GATEWAY desconocido: {settings.notify_gateway!r} (console, twilio o auto)")
