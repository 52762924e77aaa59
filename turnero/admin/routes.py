"""Administration API (/api/admin/…): parse, check the role, call the service, serialise."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from turnero.admin import brigades, report_service, service
from turnero.admin.schemas import (
    AuditOut,
    DeskAdminOut,
    DeskCreate,
    DeskUpdate,
    OfficeAdminOut,
    OfficeCreate,
    OfficeUpdate,
    ReportOut,
    ServiceAdminOut,
    ServiceCreate,
    ServiceUpdate,
    InviteeList,
    StopIn,
    UserAdminOut,
    UserCreate,
    UserUpdate,
)
from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import require
from turnero.core.errors import invalid
from turnero.core.http import json_response, read_json
from turnero.core.models import Role
from turnero.core.schemas import BrigadeStopOut

ADMINS = ("admin",)
MANAGERS = ("admin", "supervisor")
TAG = "admin"


async def _manager(request: Request):
    return await require(request, Role.SUPERVISOR)


async def _admin(request: Request):
    return await require(request)  # admin always passes; every other role is refused


def _limit(request: Request, default: int = 100, maximum: int = 500) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise invalid(f"limit debe ser un número entre 1 y {maximum}.")
    return int(raw)


# ---------------------------------------------------------------- offices


async def list_offices(request: Request):
    return json_response(await service.list_offices(await _manager(request)))


async def create_office(request: Request):
    actor = await _admin(request)
    return json_response(await service.create_office(actor, await read_json(request, OfficeCreate)), 201)


async def get_office(request: Request):
    actor = await _manager(request)
    return json_response(await service.get_office(actor, request.path_params["office"]))


async def update_office(request: Request):
    actor = await _manager(request)
    body = await read_json(request, OfficeUpdate)
    return json_response(await service.update_office(actor, request.path_params["office"], body))


# ---------------------------------------------------------------- services


async def list_services(request: Request):
    await _manager(request)
    return json_response(await service.list_services())


async def create_service(request: Request):
    actor = await _admin(request)
    return json_response(await service.create_service(actor, await read_json(request, ServiceCreate)), 201)


async def update_service(request: Request):
    actor = await _admin(request)
    body = await read_json(request, ServiceUpdate)
    return json_response(await service.update_service(actor, request.path_params["service"], body))


# ---------------------------------------------------------------- desks


async def list_desks(request: Request):
    actor = await _manager(request)
    return json_response(await service.list_desks(actor, request.path_params["office"]))


async def create_desk(request: Request):
    actor = await _manager(request)
    body = await read_json(request, DeskCreate)
    return json_response(await service.create_desk(actor, request.path_params["office"], body), 201)


async def update_desk(request: Request):
    actor = await _manager(request)
    body = await read_json(request, DeskUpdate)
    params = request.path_params
    return json_response(await service.update_desk(actor, params["office"], params["desk"], body))


async def delete_desk(request: Request):
    actor = await _manager(request)
    await service.delete_desk(actor, request.path_params["office"], request.path_params["desk"])
    return Response(status_code=204)


# ---------------------------------------------------------------- brigade stops


async def list_stops(request: Request):
    actor = await _admin(request)
    return json_response(await brigades.list_stops(actor, request.path_params["office"]))


async def create_stop(request: Request):
    actor = await _admin(request)
    body = await read_json(request, StopIn)
    return json_response(await brigades.create_stop(actor, request.path_params["office"], body), 201)


async def update_stop(request: Request):
    actor = await _admin(request)
    body = await read_json(request, StopIn)
    path = request.path_params
    return json_response(await brigades.update_stop(actor, path["office"], path["stop"], body))


async def delete_stop(request: Request):
    actor = await _admin(request)
    await brigades.delete_stop(actor, request.path_params["office"], request.path_params["stop"])
    return Response(status_code=204)


async def set_invitees(request: Request):
    actor = await _admin(request)
    body = await read_json(request, InviteeList)
    path = request.path_params
    return json_response(await brigades.set_invitees(actor, path["office"], path["stop"], body))


async def list_invitees(request: Request):
    actor = await _admin(request)
    path = request.path_params
    return json_response(await brigades.list_invitees(actor, path["office"], path["stop"]))


# ---------------------------------------------------------------- users and devices


async def list_users(request: Request):
    actor = await _manager(request)
    roles = tuple(r for r in request.query_params.get("role", "").split(",") if r)
    unknown = [r for r in roles if r not in {role.value for role in Role}]
    if unknown:
        raise invalid(f"Rol desconocido: {unknown[0][:20]!r}.")
    return json_response(await service.list_users(actor, request.query_params.get("office"), roles))


async def create_user(request: Request):
    actor = await _manager(request)
    return json_response(await service.create_user(actor, await read_json(request, UserCreate)), 201)


async def update_user(request: Request):
    actor = await _manager(request)
    body = await read_json(request, UserUpdate)
    return json_response(await service.update_user(actor, request.path_params["username"], body))


async def list_audit(request: Request):
    actor = await _manager(request)
    return json_response(await service.list_audit(actor, request.query_params.get("office"), _limit(request)))


async def office_report(request: Request):
    actor = await _manager(request)
    query = request.query_params
    return json_response(await report_service.office_report(
        actor, request.path_params["office"], query.get("from"), query.get("to")))


async def office_report_csv(request: Request):
    actor = await _manager(request)
    query = request.query_params
    table = query.get("table", "by_service_and_hour")
    report = await report_service.office_report(actor, request.path_params["office"], query.get("from"), query.get("to"))
    filename = f"turnero-{report['office']}-{report['from']}-{report['to']}-{table}.csv"
    return PlainTextResponse(report_service.report_csv(report, table), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _doc(summary: str, roles=MANAGERS, **kwargs) -> ApiDoc:
    errors = kwargs.pop("errors", (401, 403))
    return ApiDoc(summary, TAG, roles=roles, errors=errors, **kwargs)


_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422)

routes = [
    api_route("/api/admin/offices", "GET", list_offices,
              _doc("Oficinas (un supervisor ve solo la suya)", response=OfficeAdminOut, response_list=True)),
    api_route("/api/admin/offices", "POST", create_office,
              _doc("Crear una oficina", ADMINS, body=OfficeCreate, response=OfficeAdminOut, success_status=201,
                   errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}", "GET", get_office,
              _doc("Una oficina", response=OfficeAdminOut, errors=(401, 403, 404))),
    api_route("/api/admin/offices/{office}", "PATCH", update_office,
              _doc("Cambiar una oficina (horario, zona horaria, trámites que ofrece…)", body=OfficeUpdate,
                   response=OfficeAdminOut, errors=_WRITE_ERRORS)),
    api_route("/api/admin/services", "GET", list_services,
              _doc("Trámites, incluidos los inactivos", response=ServiceAdminOut, response_list=True)),
    api_route("/api/admin/services", "POST", create_service,
              _doc("Crear un trámite (requisitos, pasos)", ADMINS, body=ServiceCreate, response=ServiceAdminOut,
                   success_status=201, errors=_WRITE_ERRORS)),
    api_route("/api/admin/services/{service}", "PATCH", update_service,
              _doc("Cambiar un trámite", ADMINS, body=ServiceUpdate, response=ServiceAdminOut,
                   errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/desks", "GET", list_desks,
              _doc("Ventanillas de una oficina y los trámites que atiende cada una (con su peso)",
                   response=DeskAdminOut, response_list=True, errors=(401, 403, 404))),
    api_route("/api/admin/offices/{office}/desks", "POST", create_desk,
              _doc("Crear una ventanilla", body=DeskCreate, response=DeskAdminOut, success_status=201,
                   errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/desks/{desk}", "PATCH", update_desk,
              _doc("Renombrar una ventanilla o cambiar sus trámites y pesos", body=DeskUpdate,
                   response=DeskAdminOut, errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/desks/{desk}", "DELETE", delete_desk,
              _doc("Eliminar una ventanilla cerrada y sin historial", success_status=204,
                   errors=(401, 403, 404, 409))),
    api_route("/api/admin/offices/{office}/stops", "GET", list_stops,
              _doc("Paradas de una brigada (todas, también las pasadas)", ADMINS, response=BrigadeStopOut,
                   response_list=True, errors=(401, 403, 404, 409))),
    api_route("/api/admin/offices/{office}/stops", "POST", create_stop,
              _doc("Agregar una parada a una brigada (municipio, dirección, días, horario)", ADMINS, body=StopIn,
                   response=BrigadeStopOut, success_status=201, errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/stops/{stop}", "PUT", update_stop,
              _doc("Reemplazar una parada de una brigada", ADMINS, body=StopIn, response=BrigadeStopOut,
                   errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/stops/{stop}", "DELETE", delete_stop,
              _doc("Eliminar una parada de una brigada", ADMINS, success_status=204, errors=(401, 403, 404, 409))),
    api_route("/api/admin/offices/{office}/stops/{stop}/invitees", "PUT", set_invitees,
              _doc("Lista de personas de una sesión cerrada (la entrega la institución; reemplaza la anterior)",
                   ADMINS, body=InviteeList, errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/stops/{stop}/invitees", "GET", list_invitees,
              _doc("Personas de la lista de una sesión cerrada", ADMINS, errors=(401, 403, 404, 409))),
    api_route("/api/admin/users", "GET", list_users,
              _doc("Usuarios y dispositivos (quioscos y pantallas son usuarios con ese rol)",
                   response=UserAdminOut, response_list=True, errors=(401, 403, 404, 422),
                   query={"office": "código de oficina (solo administradores)",
                          "role": "roles separados por comas, p. ej. kiosk,display"})),
    api_route("/api/admin/users", "POST", create_user,
              _doc("Crear un usuario o dispositivo", body=UserCreate, response=UserAdminOut, success_status=201,
                   errors=_WRITE_ERRORS)),
    api_route("/api/admin/users/{username}", "PATCH", update_user,
              _doc("Cambiar rol, oficina, nombre, estado o contraseña de un usuario", body=UserUpdate,
                   response=UserAdminOut, errors=_WRITE_ERRORS)),
    api_route("/api/admin/offices/{office}/report", "GET", office_report,
              _doc("Informe de una oficina: turnos por trámite y hora, espera y atención (media, p50, p90), "
                   "no presentados, cancelados, productividad, ocupación de citas, examen teórico",
                   response=ReportOut, errors=(401, 403, 404, 422),
                   query={"from": "primer día, AAAA-MM-DD (por omisión, hoy)", "to": "último día, incluido"})),
    api_route("/api/admin/offices/{office}/report.csv", "GET", office_report_csv,
              _doc("Una tabla del informe en CSV", errors=(401, 403, 404, 422),
                   query={"from": "primer día, AAAA-MM-DD", "to": "último día, incluido",
                          "table": "by_service_and_hour, wait, service_time, outcomes, operators, desks, citas o exam"})),
    api_route("/api/admin/audit", "GET", list_audit,
              _doc("Registro de cambios de configuración (más recientes primero)", response=AuditOut,
                   response_list=True, errors=(401, 403, 404, 422),
                   query={"office": "código de oficina (solo administradores)", "limit": "1–500, por omisión 100"})),
]
