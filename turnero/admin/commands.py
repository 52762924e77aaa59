"""`turnero config export|import`, `turnero user set-password|list|update` and
`turnero purge`: the administration from the command line (registered in turnero/cli.py)."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from turnero.core.http import describe_validation_error
from turnero.core.models import Role
from turnero.settings import Settings

# The commands import the database and the admin service inside their functions, on
# purpose: turnero/cli.py loads this module for every command, `--help` included.


def _run(settings: Settings, work):
    # Lazy imports: `turnero --help` loads this module, not the database or the domains.
    from turnero.core.db import with_db
    from turnero.core.errors import ApiError
    from turnero.wiring import wire

    wire(settings)  # the domains plugged into each other, as turnero/app.py does
    try:
        return asyncio.run(with_db(settings, work))
    except ApiError as exc:  # the same refusals as the API, as a message and exit status 1
        raise SystemExit(f"Error: {exc.message}") from None


def _is_yaml(path: str | None, fmt: str | None) -> bool:
    if fmt:
        return fmt == "yaml"
    return bool(path) and path.lower().endswith((".yaml", ".yml"))


def cmd_config_export(args, settings: Settings) -> None:
    from turnero.admin.service import export_config

    data = _run(settings, export_config)
    if _is_yaml(args.output, args.format):
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Configuración escrita en {args.output}.", file=sys.stderr)
    else:
        sys.stdout.write(text)


def load_config_file(path: Path):
    from turnero.admin.schemas import ConfigFile

    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SystemExit(f"No se pudo leer {path}: {exc}") from None
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise SystemExit(f"{path}: {describe_validation_error(exc)}") from None


def cmd_config_import(args, settings: Settings) -> None:
    from turnero.admin.service import import_config

    config = load_config_file(Path(args.file))
    result = _run(settings, lambda: import_config(config))
    print(f"Configuración importada: {result.created} creados, {result.updated} actualizados, "
          f"{result.unchanged} sin cambios.")


def cmd_user_set_password(args, settings: Settings) -> None:
    from turnero.admin.schemas import UserUpdate
    from turnero.admin.service import cli_actor, update_user

    password = args.password or getpass.getpass("Nueva contraseña: ")
    try:
        change = UserUpdate(password=password, active=True)
    except ValidationError:
        raise SystemExit("La contraseña debe tener al menos 8 caracteres.") from None
    _run(settings, lambda: update_user(cli_actor(), args.username, change))
    print(f"Contraseña de {args.username} cambiada; las sesiones abiertas se cerraron.")


def cmd_user_update(args, settings: Settings) -> None:
    from turnero.admin.schemas import UserUpdate
    from turnero.admin.service import cli_actor, update_user

    values = {k: v for k, v in (("role", args.role), ("office", args.office), ("full_name", args.full_name))
              if v is not None}
    if args.active is not None:
        values["active"] = args.active == "si"
    try:
        change = UserUpdate(**values)
    except ValidationError as exc:
        raise SystemExit(describe_validation_error(exc)) from None
    view = _run(settings, lambda: update_user(cli_actor(), args.username, change))
    print(json.dumps(view, ensure_ascii=False))


def cmd_user_list(args, settings: Settings) -> None:
    from turnero.admin.service import cli_actor, list_users

    roles = tuple(r for r in (args.role or "").split(",") if r)
    for user in _run(settings, lambda: list_users(cli_actor(), args.office, roles)):
        state = "" if user["active"] else " (inactivo)"
        print(f"{user['username']:<16} {user['role']:<11} {user['office'] or 'todas'}{state}")


def cmd_purge(args, settings: Settings) -> None:
    from turnero.admin.retention import MIN_DAYS, RetentionConfig, dry_run, run_retention
    from turnero.admin.service import cli_actor

    if args.days is not None and args.days < MIN_DAYS:
        raise SystemExit(f"--days debe ser al menos {MIN_DAYS}.")
    config = RetentionConfig.from_settings(settings)
    changes = {k: v for k, v in (("days", args.days), ("batch", args.batch)) if v is not None}
    if args.pause_ms is not None:
        changes["pause_seconds"] = max(0, args.pause_ms) / 1000
    config = config.with_(**changes)
    if not config.enabled:
        raise SystemExit("La retención está desactivada (TURNERO_RETENTION_DAYS=0); indique --days N.")
    if args.dry_run:
        result = _run(settings, lambda: dry_run(config))
        print(f"Se borraría el detalle de más de {config.days} días (nada cambió):")
    else:
        result = _run(settings, lambda: run_retention(config, actor=cli_actor()))
        if result.status == "busy":
            raise SystemExit("Otra instancia está ejecutando la retención; inténtelo más tarde.")
        print(f"Retención de {config.days} días: {result.status}, {result.batches} lotes, {result.seconds:.1f} s")
    for name, count in sorted(result.counts.items()):
        print(f"  {name:<22} {count}")
    if result.status not in ("done", "dry_run"):
        raise SystemExit(f"Error: {result.error or result.status}")


def add_admin_commands(sub, user_commands) -> None:
    ROLE_NAMES = [role.value for role in Role]  # noqa: N806

    config = sub.add_parser("config", help="exportar o importar la configuración (JSON o YAML)")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    export = config_sub.add_parser("export", help="oficinas, trámites, ventanillas y usuarios (sin contraseñas)")
    export.add_argument("--output", "-o", help="archivo .json, .yaml o .yml (por omisión, la salida estándar)")
    export.add_argument("--format", choices=("json", "yaml"), help="formato (por omisión, según la extensión; si no, JSON)")
    export.set_defaults(func=cmd_config_export)
    load = config_sub.add_parser("import", help="crear lo que falta y actualizar lo que difiere (no borra nada)")
    load.add_argument("file", help="archivo .json, .yaml o .yml")
    load.set_defaults(func=cmd_config_import)

    password = user_commands.add_parser("set-password", help="fijar la contraseña de un usuario")
    password.add_argument("username", help="nombre de usuario")
    password.add_argument("--password", help="si se omite, se pregunta")
    password.set_defaults(func=cmd_user_set_password)

    update = user_commands.add_parser("update", help="cambiar rol, oficina, nombre o estado")
    update.add_argument("username", help="nombre de usuario")
    update.add_argument("--role", choices=ROLE_NAMES, help="nuevo rol")
    update.add_argument("--office", help="código de la nueva oficina, p. ej. LPZ-PRINCIPAL")
    update.add_argument("--full-name", help="nuevo nombre y apellidos")
    update.add_argument("--active", choices=("si", "no"), help="«no» impide ingresar sin borrar el usuario")
    update.set_defaults(func=cmd_user_update)

    listing = user_commands.add_parser("list", help="listar usuarios y dispositivos")
    listing.add_argument("--office", help="solo los de esta oficina (código)")
    listing.add_argument("--role", help="roles separados por comas, p. ej. kiosk,display")
    listing.set_defaults(func=cmd_user_list)

    purge = sub.add_parser("purge", help="resumir en cifras diarias y borrar el detalle antiguo (retención)")
    purge.add_argument("--dry-run", action="store_true", help="solo contar lo que se borraría")
    purge.add_argument("--days", type=int, help="días de detalle que se conservan (por omisión TURNERO_RETENTION_DAYS)")
    purge.add_argument("--batch", type=int, help="filas por lote (por omisión TURNERO_RETENTION_BATCH)")
    purge.add_argument("--pause-ms", type=int, help="pausa entre lotes (por omisión TURNERO_RETENTION_PAUSE_MS)")
    purge.set_defaults(func=cmd_purge)
