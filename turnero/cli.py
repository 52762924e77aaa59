"""The `turnero` command: serve, demo, migrate, user, close-day, config, purge, exam.

Set-up problems (a database it cannot open, a port already taken) end in one Spanish
line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import importlib.metadata
import importlib.util
import socket
import sys

from turnero.settings import Settings

# The commands import what they run inside their functions, on purpose: the start-up
# cost (`turnero --help`, `turnero migrate`) stays that of argparse, not of every domain.

ROLE_NAMES = ("admin", "supervisor", "operator", "kiosk", "display")


# The request line plus headers a client may send: h11 refuses more by itself (its
# max_incomplete_event_size); httptools (llhttp) has no such limit, so the protocol
# below counts and answers 431. Browsers and proxies stay far below (nginx: 8 KB lines).
MAX_REQUEST_HEAD_BYTES = 16 * 1024


def _bounded_httptools_protocol():
    """uvicorn's httptools protocol with a cap on the request head: a 100 KB header
    gets 431 and the connection closes, without being buffered further."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    body = (b'{"error": {"code": "headers_too_large", '
            b'"message": "Las cabeceras de la solicitud son demasiado grandes."}}')
    response = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + body)

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0  # bytes received since the current request began, head unfinished
        _in_head = True
        _refused = False

        def _refuse(self) -> None:
            self._refused = True
            if not self.transport.is_closing():
                self.transport.write(response)
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_REQUEST_HEAD_BYTES and not self._refused:
                self._refuse()

        def send_400_response(self, msg: str) -> None:
            if not self._refused:
                super().send_400_response(msg)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_bytes = 0
            self._head_size = 0

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            self._head_size = getattr(self, "_head_size", 0) + len(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            super().on_header(name, value)
            self._head_size = getattr(self, "_head_size", 0) + len(name) + len(value) + 4
            if self._head_size > MAX_REQUEST_HEAD_BYTES:
                self._refuse()
                raise ValueError("request head too large")  # stops the parser

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            super().on_headers_complete()

    return BoundedHttpToolsProtocol


def __getattr__(name: str):
    # uvicorn imports the protocol by name ("turnero.cli:BoundedHttpToolsProtocol"), in
    # each worker process too; built on first use so `turnero migrate` never loads uvicorn.
    if name == "BoundedHttpToolsProtocol":
        cls = _bounded_httptools_protocol()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def _http_options() -> dict:
    if importlib.util.find_spec("httptools") is None:
        return {"http": "h11", "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES}
    return {"http": "turnero.cli:BoundedHttpToolsProtocol",
            "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES}


class CannotServe(Exception):
    """The address to listen on is taken or not ours; one Spanish line for the user."""


def _check_port_free(host: str, port: int) -> None:
    """Bind and release the address as uvicorn will (SO_REUSEADDR), so a busy port is
    one clear line before anything is announced, not uvicorn's traceback after it."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        raise CannotServe(f"No se reconoce la dirección {host!r} (TURNERO_HOST o --host).") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            raise CannotServe(
                f"Sin permiso para usar el puerto {port}; elija uno mayor que 1023 con --port o TURNERO_PORT."
            ) from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CannotServe(
                    f"El puerto {port} ya está en uso en {host} (¿otro turnero en marcha?); "
                    f"elija otro con --port {port + 1} o TURNERO_PORT={port + 1}."
                ) from None
            raise CannotServe(f"No se puede escuchar en {host}:{port}: {exc.strerror or exc}.") from None


def _serve(settings: Settings, host: str | None, port: int | None, workers: int) -> None:
    import uvicorn

    from turnero.core.logging_setup import log_config

    host, port = host or settings.host, port or settings.port
    _check_port_free(host, port)
    uvicorn.run(
        "turnero.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_config=log_config(settings.log_format, settings.log_level, settings.access_log),
        access_log=settings.access_log,
        # SIGTERM: stop accepting, let in-flight requests finish (up to this many seconds).
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # Longer than a load balancer's idle timeout (often 60 s), so the proxy, not
        # uvicorn, closes idle connections: no request races a closing socket.
        timeout_keep_alive=75,
        # Live board WebSockets: see Settings.ws_compression.
        ws_per_message_deflate=settings.ws_compression,
        # A bounded request head (431 beyond MAX_REQUEST_HEAD_BYTES) on either parser.
        **_http_options(),
    )


async def _with_db(settings: Settings, work, migrate: bool = True):
    # Lazy imports: a command loads only what it runs (start-up time of `turnero --help`).
    from turnero.core.db import with_db
    from turnero.wiring import wire

    wire(settings)  # the domains plugged into each other, as turnero/app.py does
    return await with_db(settings, work, migrate=migrate)


def cmd_serve(args, settings: Settings) -> None:
    _check_port_free(args.host or settings.host, args.port or settings.port)
    # An unreachable database is one line here, not a traceback from each worker.
    asyncio.run(_with_db(settings, _noop, migrate=False))
    _serve(settings, args.host, args.port, args.workers)


def cmd_demo(args, settings: Settings) -> None:
    from turnero.demo import DEMO_PASSWORD, seed_demo

    host, port = args.host or settings.host, args.port or settings.port
    _check_port_free(host, port)  # before seeding and announcing the address
    users = asyncio.run(_with_db(settings, seed_demo))
    print("\nTurnero — datos de demostración (oficinas de La Paz)")
    print(f"Base de datos: {settings.database_url}")
    print(f"Usuarios de demostración (contraseña «{DEMO_PASSWORD}»):")
    for user in users:
        print(f"  {user.username:<12} {user.role.value:<11} {user.office or 'todas las oficinas'}")
    print(f"\nAbra http://{host}:{port}/ — quiosco /kiosk/LPZ-PRINCIPAL, ventanilla /desk/LPZ-PRINCIPAL\n")
    sys.stdout.flush()
    _serve(settings, args.host, args.port, 1)


def cmd_migrate(args, settings: Settings) -> None:
    asyncio.run(_with_db(settings, _noop))
    print("Esquema al día.")


async def _noop():
    return None


def cmd_user_create(args, settings: Settings) -> None:
    from turnero.core.auth import hash_password
    from turnero.core.models import Office, Role, User

    password = args.password or getpass.getpass("Contraseña: ")
    if len(password) < 8:
        raise SystemExit("La contraseña debe tener al menos 8 caracteres.")
    role = Role(args.role)
    if role != Role.ADMIN and not args.office:
        raise SystemExit("Los roles distintos de admin necesitan --office.")

    async def work():
        office = None
        if args.office:
            office = await Office.get_or_none(code=args.office)
            if office is None:
                raise SystemExit(f"No existe la oficina {args.office}.")
        if await User.exists(username=args.username):
            raise SystemExit(f"Ya existe el usuario {args.username}.")
        await User.create(
            username=args.username, role=role, office=office, password_hash=hash_password(password),
            full_name=args.full_name or "",
        )

    asyncio.run(_with_db(settings, work))
    print(f"Usuario {args.username} creado ({role.value}).")


def cmd_close_day(args, settings: Settings) -> None:
    from turnero.queue.config import QueueConfig
    from turnero.queue.day_close import close_all_days

    cancelled = asyncio.run(_with_db(settings, lambda: close_all_days(QueueConfig.from_settings(settings))))
    print(f"Turnos en espera cancelados: {cancelled}")


def cmd_exam_import(args, settings: Settings) -> None:
    """Validate the whole file first; the bank changes only if every row is valid."""
    from pathlib import Path

    from turnero.exam.questions import ImportErrors, import_questions, parse_file

    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"No existe el archivo {path}.")
    try:
        rows = parse_file(path)
    except ImportErrors as exc:
        print(f"No se importó nada: {len(exc.problems)} problema(s) en {path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1) from None
    created, updated = asyncio.run(_with_db(settings, lambda: import_questions(rows)))
    print(f"Preguntas importadas: {created} nuevas, {updated} actualizadas.")


# argparse's own words (usage, errors, -h) come from gettext with no Spanish catalogue
# installed; the messages a user of `turnero` meets, in Spanish.
ARGPARSE_SPANISH = {
    "usage: ": "uso: ",
    "positional arguments": "argumentos",
    "options": "opciones",
    "show this help message and exit": "mostrar esta ayuda y salir",
    "the following arguments are required: %s": "faltan los argumentos: %s",
    "unrecognized arguments: %s": "argumentos no reconocidos: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "opción no válida: %(value)r (elija entre %(choices)s)",
    "invalid %(type)s value: %(value)r": "valor no válido: %(value)r",
    "expected one argument": "falta el valor",
    "ambiguous option: %(option)s could match %(matches)s": "opción ambigua: %(option)s puede ser %(matches)s",
    "one of the arguments %s is required": "falta uno de los argumentos %s",
}


def _spanish(message: str) -> str:
    return ARGPARSE_SPANISH.get(message, message)


def package_version() -> str:
    try:
        return importlib.metadata.version("turnero")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "desconocida"


def build_parser() -> argparse.ArgumentParser:
    argparse._ = _spanish  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(prog="turnero", description="Citas y filas para oficinas de atención.")
    parser.add_argument("--version", action="version", version=f"turnero {package_version()}",
                        help="mostrar la versión y salir")
    sub = parser.add_subparsers(dest="command", required=True, title="órdenes", metavar="ORDEN")

    for name, help_text, func in (
        ("serve", "servir la aplicación", cmd_serve),
        ("demo", "cargar datos de demostración y servir", cmd_demo),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", help="dirección en la que escuchar (por omisión TURNERO_HOST o 127.0.0.1; "
                                       "0.0.0.0 para toda la red)")
        p.add_argument("--port", type=int, help="puerto en el que escuchar (por omisión TURNERO_PORT o 8000)")
        if name == "serve":
            p.add_argument("--workers", type=int, default=1,
                           help="procesos que atienden (por omisión 1; con varios, ver PROMETHEUS_MULTIPROC_DIR)")
        p.set_defaults(func=func)

    sub.add_parser("migrate", help="crear o actualizar el esquema").set_defaults(func=cmd_migrate)
    sub.add_parser("close-day", help="cancelar turnos en espera de días cerrados").set_defaults(func=cmd_close_day)

    user = sub.add_parser("user", help="gestionar usuarios").add_subparsers(dest="user_command", required=True)
    create = user.add_parser("create", help="crear un usuario")
    create.add_argument("username", help="nombre de usuario para ingresar")
    create.add_argument("--role", required=True, choices=ROLE_NAMES, help="rol del usuario")
    create.add_argument("--office", help="código de la oficina (obligatorio salvo para admin), p. ej. LPZ-PRINCIPAL")
    create.add_argument("--password", help="si se omite, se pregunta")
    create.add_argument("--full-name", help="nombre y apellidos")
    create.set_defaults(func=cmd_user_create)

    from turnero.admin.commands import add_admin_commands

    add_admin_commands(sub, user)

    exam = sub.add_parser("exam", help="examen teórico").add_subparsers(dest="exam_command", required=True)
    exam_import = exam.add_parser("import", help="importar preguntas desde un CSV o JSON")
    exam_import.add_argument("file", help="archivo .csv o .json (formato en turnero/exam/questions.py)")
    exam_import.set_defaults(func=cmd_exam_import)
    return parser


def main(argv: list[str] | None = None) -> None:
    from turnero.core.logging_setup import configure

    from turnero.core.db import DatabaseUnavailable

    args = build_parser().parse_args(argv)  # --help and --version need no settings
    settings = Settings.from_env()
    configure(settings.log_format, settings.log_level, settings.access_log)
    try:
        args.func(args, settings)
    except (DatabaseUnavailable, CannotServe) as exc:
        # Set-up problems the user can fix: one line and a non-zero exit, no traceback.
        print(f"turnero: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
