"""Declaring API routes once: the Starlette route plus what OpenAPI needs to know.

Every API route goes through `api_route`, so the boundary check on parameters lives here
once: no path or query parameter that carries a NUL or another control character reaches
a handler (PostgreSQL refuses NUL in text and answers with an error the handler never
expected; SQLite would store it silently). Bodies: http.read_json."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.core.errors import invalid_text
from turnero.core.validation import bad_text_reason

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_list: bool = False
    success_status: int = 200
    roles: tuple[str, ...] | None = None  # None: public
    errors: tuple[int, ...] = ()
    query: dict[str, str] = field(default_factory=dict)  # name -> description


def check_request_text(request: Request) -> None:
    """422 when a path or query parameter holds a control character. Bodies are
    checked where they are read (http.read_json)."""
    for name, value in request.path_params.items():
        if isinstance(value, str):
            reason = bad_text_reason(value, multiline=False)
            if reason:
                raise invalid_text(name, reason)
    for name, value in request.query_params.multi_items():
        reason = bad_text_reason(name, multiline=False) or bad_text_reason(value, multiline=False)
        if reason:
            raise invalid_text(name, reason)


def _guarded(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        check_request_text(request)
        return await handler(request)

    return guarded


# Every method served on one path pattern, across the separate routes that serve them:
# a 405 (and so an OPTIONS request) lists them all in `Allow`, not only the methods of
# the first route whose path matched.
_METHODS_BY_PATH: dict[str, set[str]] = {}


class ApiRoute(Route):
    async def handle(self, scope, receive, send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed = _METHODS_BY_PATH.get(self.path_regex.pattern, self.methods)
            raise HTTPException(status_code=405, headers={"Allow": ", ".join(sorted(allowed))})
        await super().handle(scope, receive, send)


def allowed_methods(route: Route) -> set[str]:
    return set(_METHODS_BY_PATH.get(route.path_regex.pattern, route.methods or ()))


def api_route(path: str, method: str, handler: Handler, doc: ApiDoc) -> Route:
    route = ApiRoute(path, _guarded(handler), methods=[method])
    route.api_doc = doc  # type: ignore[attr-defined]
    _METHODS_BY_PATH.setdefault(route.path_regex.pattern, set()).update(route.methods or ())
    return route
