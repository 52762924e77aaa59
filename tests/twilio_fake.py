"""A loopback fake of Twilio's Messages API, for the real `twilio` client to talk to.

A small threaded HTTP server on 127.0.0.1 that answers
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way Twilio does (201 and a
message resource, HTTP basic auth with the account sid and auth token), records every
request it receives, and can be told to answer the next requests with errors
(`fail_next(3, status=500)`), to be slow, or to hang (`hang(150, count=1)`: the
message is accepted at once, its answer comes N seconds later — the case where a
client gives up on a message that went out). `GET …/Messages.json` lists the accepted
messages newest first, filtered by `To` and `DateSent>`, in pages shaped as Twilio's.
Point the client at it with
`client.api.base_url = fake.url` (TWILIO_API_BASE_URL in Turnero's settings).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"


@dataclass
class Recorded:
    path: str
    form: dict[str, list[str]]
    auth: tuple[str, str] | None
    headers: dict[str, str]
    status: int  # what the fake answered
    sid: str | None  # the MessageSid given, for a 201
    at: float = 0.0  # time.monotonic() when it arrived
    # Seconds its answer was held back (`hang`). Arrival order is not hang order: two
    # requests arriving together take their turn at the script in either order.
    held: float = 0.0

    @property
    def outbox_id(self) -> int | None:
        """Turnero's row id, from the StatusCallback URL (`…/status?id=N`)."""
        callback = self.one("StatusCallback") or ""
        _, _, value = callback.partition("?id=")
        return int(value) if value.isdigit() else None

    def one(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class _Script:
    failures: list[tuple[int, dict]] = field(default_factory=list)  # (status, body) for the next requests
    delay: float = 0.0
    hangs: list[float] = field(default_factory=list)  # seconds, for the next accepted messages
    hang_all: float = 0.0  # seconds, for every accepted message (after `hangs`)


class TwilioFake:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[Recorded] = []
        self.messages: list[dict] = []  # the accepted messages' resources, oldest first
        self.list_requests = 0
        self._script = _Script()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="twilio-fake", daemon=True)

    # ---- control

    def start(self) -> "TwilioFake":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 500, code: int | None = None, message: str = "fallo simulado"):
        """Answer the next `count` message requests with `status` (Twilio's error body)."""
        body = {"code": code or (20500 if status >= 500 else 21211), "message": message, "status": status,
                "more_info": "https://www.twilio.com/docs/errors"}
        with self._lock:
            self._script.failures.extend([(status, body)] * count)

    def slow(self, seconds: float) -> None:
        with self._lock:
            self._script.delay = seconds

    def hang(self, seconds: float, count: int | None = None) -> None:
        """Accept the next `count` messages (every one: None) but answer each only
        after `seconds`; hang(0) ends it."""
        with self._lock:
            if count is None:
                self._script.hang_all = seconds
                self._script.hangs.clear()
            else:
                self._script.hangs.extend([seconds] * count)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self.list_requests = 0
            self._script = _Script()

    @property
    def accepted(self) -> list[Recorded]:
        """The requests answered 201: the messages Twilio would have sent."""
        with self._lock:
            return [r for r in self.requests if r.status == 201]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted) >= count:
                return self.accepted
            time.sleep(0.02)
        raise AssertionError(f"the fake got {len(self.accepted)} messages, expected {count}")

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for a webhook to `url` with `params`."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    # ---- the server

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this each answer
            # waits ~40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                form = parse_qs(raw, keep_blank_values=True)
                auth = _basic_auth(self.headers.get("Authorization", ""))
                expected_path = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
                with fake._lock:
                    delay = fake._script.delay
                if delay:
                    time.sleep(delay)
                sid = None
                if auth != (fake.account_sid, fake.auth_token):
                    status, body = 401, {"code": 20003, "message": "Authenticate", "status": 401}
                elif self.path != expected_path:
                    status, body = 404, {"code": 20404, "message": "Not found", "status": 404}
                elif not (form.get("To") and form.get("Body")
                          and (form.get("From") or form.get("MessagingServiceSid"))):
                    status, body = 400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}
                else:
                    with fake._lock:
                        failure = fake._script.failures.pop(0) if fake._script.failures else None
                    if failure is not None:
                        status, body = failure
                    else:
                        sid = "SM" + secrets.token_hex(16)
                        status, body = 201, _message_resource(fake.account_sid, sid, form)
                hang = 0.0
                with fake._lock:
                    if status == 201:
                        fake.messages.append(body)
                        hang = fake._script.hangs.pop(0) if fake._script.hangs else fake._script.hang_all
                    fake.requests.append(
                        Recorded(self.path, form, auth, dict(self.headers.items()), status, sid, arrived, hang)
                    )
                if hang:
                    time.sleep(hang)
                self._answer(status, {k: v for k, v in body.items() if not k.startswith("_")})

            def do_GET(self) -> None:  # noqa: N802
                auth = _basic_auth(self.headers.get("Authorization", ""))
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                expected_path = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
                if auth != (fake.account_sid, fake.auth_token):
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if parts.path != expected_path:
                    return self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                after = _parse_date(query.get("DateSent>"))
                with fake._lock:
                    fake.list_requests += 1
                    found = [
                        m for m in reversed(fake.messages)  # newest first, as Twilio lists
                        if (not query.get("To") or m["to"] == query["To"])
                        and (after is None or m["_date_sent"] >= after)
                    ]
                size = max(1, min(1000, int(query.get("PageSize") or 50)))
                page = int(query.get("Page") or 0)
                chunk = found[page * size:(page + 1) * size]
                filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

                def uri(n: int) -> str:
                    return f"{expected_path}?{urlencode({**filters, 'PageSize': size, 'Page': n})}"

                self._answer(200, {
                    "messages": [{k: v for k, v in m.items() if not k.startswith("_")} for m in chunk],
                    "uri": uri(page), "first_page_uri": uri(0), "page": page, "page_size": size,
                    "start": page * size, "end": page * size + max(0, len(chunk) - 1),
                    "previous_page_uri": uri(page - 1) if page else None,
                    "next_page_uri": uri(page + 1) if (page + 1) * size < len(found) else None,
                })

            def _answer(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting (a hang longer than its timeout)
                    self.close_connection = True

        return Handler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):  # a client killed or gone mid-request
            return
        super().handle_error(request, client_address)


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _parse_date(value: str | None) -> datetime | None:
    """Twilio's `DateSent>`: a day (`2026-11-23`) or a time (`2026-11-23T14:00:00Z`)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _message_resource(account_sid: str, sid: str, form: dict[str, list[str]]) -> dict:
    first = {k: v[0] for k, v in form.items()}
    # Sent at once, to the second (Twilio's dates have no fraction).
    sent = datetime.now(timezone.utc).replace(microsecond=0)
    return {
        "_date_sent": sent, "status_callback": first.get("StatusCallback"),
        "sid": sid, "account_sid": account_sid, "to": first.get("To"), "from": first.get("From"),
        "messaging_service_sid": first.get("MessagingServiceSid"), "body": first.get("Body"),
        "status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
        "date_created": "Mon, 23 Nov 2026 14:00:00 +0000", "date_updated": "Mon, 23 Nov 2026 14:00:00 +0000",
        "date_sent": format_datetime(sent), "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
        "num_media": "0", "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json", "subresource_uris": {},
    }
