"""Declaring API routes once: the Starlette route plus what OpenAPI needs to know."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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


def api_route(path: str, method: str, handler: Handler, doc: ApiDoc) -> Route:
    route = Route(path, handler, methods=[method])
    route.api_doc = doc  # type: ignore[attr-defined]
    return route
