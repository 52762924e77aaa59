"""The `turnero` command run for real (a subprocess): its version, its Spanish help, and
set-up problems (a database it cannot open, a port already taken) as one Spanish line
on stderr with exit status 1, never a traceback; and a log without library chatter."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, free_port

UNREACHABLE_PG = "postgres://postgres@127.0.0.1:1/x"


def _turnero(cwd: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TURNERO_DATABASE_URL": f"sqlite://{cwd / 'cli.sqlite3'}", "TURNERO_RUN_JOBS": "0",
                **env}
    return subprocess.run([sys.executable, "-m", "turnero", *args], env=full_env, cwd=str(cwd),
                          capture_output=True, text=True, timeout=timeout)


def _one_line_failure(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("turnero: ")
    return lines[0]


def test_version_is_the_package_version(tmp_path):
    from importlib.metadata import version

    result = _turnero(tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"turnero {version('turnero')}"


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["user", "create"], ["user", "update"], ["user", "list"],
                                     ["user", "set-password"], ["config", "export"], ["config", "import"],
                                     ["purge"], ["exam", "import"], ["migrate"], ["close-day"], []])
def test_every_option_has_spanish_help(tmp_path, command):
    result = _turnero(tmp_path, *command, "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("uso: turnero")
    assert "mostrar esta ayuda y salir" in text
    assert not re.search(r"\bshow\b|\busage\b|\boptions:|positional arguments", text), text
    # Every option and argument has its explanation, on its line or indented below it
    # (argparse leaves an option without help text alone on its line).
    lines = text.split("\n\n", 1)[1].splitlines()
    entries = [i for i, line in enumerate(lines) if line.startswith("  ") and not line.startswith("   ")]
    assert entries
    for i in entries:
        has_help_beside = "  " in lines[i].strip()
        has_help_below = i + 1 < len(lines) and lines[i + 1].startswith("   ")
        assert has_help_beside or has_help_below, f"{lines[i].strip()!r} has no help"


def test_serve_help_explains_host_port_and_workers(tmp_path):
    text = _turnero(tmp_path, "serve", "--help").stdout
    assert "dirección en la que escuchar" in text
    assert "puerto en el que escuchar" in text
    assert "procesos que atienden" in text


def test_argparse_errors_are_spanish(tmp_path):
    result = _turnero(tmp_path)
    assert result.returncode == 2
    assert "faltan los argumentos" in result.stderr and "required" not in result.stderr
    result = _turnero(tmp_path, "serve", "--port", "ochenta")
    assert result.returncode == 2
    assert "valor no válido: 'ochenta'" in result.stderr


@pytest.mark.parametrize("command", [["migrate"], ["serve"], ["user", "list"], ["close-day"]])
def test_unreachable_database_is_one_line(tmp_path, command):
    port_if_serving = ["--port", str(free_port())] if command == ["serve"] else []
    line = _one_line_failure(_turnero(tmp_path, *command, *port_if_serving, TURNERO_DATABASE_URL=UNREACHABLE_PG))
    assert "No se puede abrir la base de datos postgres://postgres@127.0.0.1:1/x" in line
    assert "conexión rechazada" in line and "TURNERO_DATABASE_URL" in line


def test_database_password_is_not_printed(tmp_path):
    line = _one_line_failure(_turnero(tmp_path, "migrate", TURNERO_DATABASE_URL="postgres://turnero:s3creta@127.0.0.1:1/x"))
    assert "s3creta" not in line
    assert "postgres://turnero:***@127.0.0.1:1/x" in line


def test_unknown_database_kind_is_one_line(tmp_path):
    line = _one_line_failure(_turnero(tmp_path, "migrate", TURNERO_DATABASE_URL="mysql2://x/y"))
    assert "tipo de base de datos desconocido" in line


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_busy_port_is_one_line_before_anything_is_announced(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for how in ({"args": ("--port", str(port)), "env": {}}, {"args": (), "env": {"TURNERO_PORT": str(port)}}):
            result = _turnero(tmp_path, command, *how["args"], **how["env"])
            line = _one_line_failure(result)
            assert line == (f"turnero: El puerto {port} ya está en uso en 127.0.0.1 (¿otro turnero en marcha?); "
                            f"elija otro con --port {port + 1} o TURNERO_PORT={port + 1}.")
            assert "Abra http" not in result.stdout  # the demo never announced an address it cannot serve
    # The demo had not touched the database either.
    assert not (tmp_path / "cli.sqlite3").exists()


def test_commands_do_not_log_tortoise_shutdown(tmp_path):
    result = _turnero(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert "Esquema al día." in result.stdout
    assert "Tortoise-ORM shutdown" not in result.stderr
    result = _turnero(tmp_path, "close-day")
    assert result.returncode == 0, result.stderr
    assert "tortoise" not in result.stderr.lower()


def test_a_served_day_log_has_no_scheduler_chatter(tmp_path):
    """Jobs running every few seconds used to log two lines per run; errors still show."""
    server = LiveServer(f"sqlite://{tmp_path / 'served.sqlite3'}", tmp_path / "server.log",
                        extra_env={"TURNERO_RUN_JOBS": "1", "TURNERO_NOTIFY_INTERVAL_SECONDS": "1"})
    try:
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        time.sleep(4)  # the outbox dispatcher runs every second, near-turns every 10 s
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Application startup complete" in log  # the server's own lines still show
    assert "Running job" not in log and "executed successfully" not in log
    assert "Tortoise-ORM shutdown" not in log
    assert "Traceback" not in log


def test_debug_level_brings_library_lines_back(tmp_path):
    result = _turnero(tmp_path, "migrate", TURNERO_LOG_LEVEL="DEBUG")
    assert result.returncode == 0, result.stderr
    assert "Tortoise-ORM shutdown" in result.stderr


def test_library_warnings_and_errors_stay_visible(tmp_path):
    """Quieting APScheduler and Tortoise hides their routine lines, not their problems."""
    script = (
        "import logging\n"
        "from turnero.core.logging_setup import configure\n"
        "configure('text', 'INFO')\n"
        "logging.getLogger('apscheduler.executors.default').info('Running job «x»')\n"
        "logging.getLogger('apscheduler.executors.default').error('Job «x» raised an exception')\n"
        "logging.getLogger('apscheduler.scheduler').warning('Run time of job «y» was missed')\n"
        "logging.getLogger('tortoise').info('Tortoise-ORM shutdown')\n"
        "logging.getLogger('tortoise').error('connection lost')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Running job" not in result.stderr and "Tortoise-ORM shutdown" not in result.stderr
    assert "ERROR apscheduler.executors.default [-] Job «x» raised an exception" in result.stderr
    assert "WARNING apscheduler.scheduler [-] Run time of job «y» was missed" in result.stderr
    assert "ERROR tortoise [-] connection lost" in result.stderr
