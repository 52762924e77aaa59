"""Pages of issue 20's satisfaction and transparency:

- POST /t/{ticket}/valoracion: the ticket page's five buttons without JavaScript (a plain
  form; with JavaScript, satisfaction.js posts to the JSON API and stays on the page);
- /desk/{office}/{desk}/valoracion: the tablet facing the citizen at a desk, signed in as
  the desk's operator or a supervisor: after the desk finishes a ticket it shows the
  buttons for a few minutes (desk-rating.js polls the desk's prompt);
- /oficinas/{office}/estadisticas: the public figures (waits by hour, today's load, the
  rating's average) as a page, nothing personal on it.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from turnero.core.errors import ApiError, invalid
from turnero.core.models import Office, Role
from turnero.core.pages import PageRedirect
from turnero.core.templating import templates
from turnero.core.pages import not_found_page, page_office
from turnero.queue import satisfaction, statistics
from turnero.queue.models import Desk

DESK_STAFF = (Role.OPERATOR, Role.SUPERVISOR)


async def rate_from_page(request: Request) -> Response:
    """The no-JavaScript path: the form's score, then back to the ticket's page (which
    then says thanks, or that it was rated already)."""
    public = request.path_params["ticket"]
    form = await request.form()
    raw = str(form.get("score", "")).strip()
    if not (raw.isdigit() and len(raw) == 1):
        raise invalid("Datos inválidos — puntuación (score): debe ser un número entero del 1 al 5")
    try:
        await satisfaction.rate_ticket(public, int(raw))
    except ApiError as exc:
        if exc.status != 409:
            raise
    return RedirectResponse(f"/t/{quote(public, safe='')}#valoracion", status_code=303)


async def desk_rating_screen(request: Request) -> Response:
    office, principal = await page_office(request, request.path_params["office"], *DESK_STAFF)
    name = request.path_params["desk"]
    if not await Desk.exists(office_id=office.id, name=name):
        raise PageRedirect(not_found_page(request, f"No existe la ventanilla «{name}» en {office.code}."))
    return templates.TemplateResponse(request, "desk/rating.html", {
        "principal": principal, "office": office, "desk": name, "labels": satisfaction.SCORE_LABELS,
        "boot": {"office": office.code, "desk": name},
    })


async def public_statistics(request: Request) -> Response:
    code = request.path_params["office"]
    office = await Office.get_or_none(code=code, active=True)
    if office is None:
        return not_found_page(request, f"No existe la oficina «{code}».")
    figures = await statistics.office_statistics(office)
    return templates.TemplateResponse(request, "public/statistics.html", {
        "office": office, "figures": figures, "principal": None,
    })


routes = [
    Route("/t/{ticket}/valoracion", rate_from_page, methods=["POST"]),
    Route("/desk/{office}/{desk}/valoracion", desk_rating_screen, methods=["GET"]),
    Route("/oficinas/{office}/estadisticas", public_statistics, methods=["GET"]),
]
