"""Log set-up: plain text lines or JSON lines (TURNERO_LOG_FORMAT=json), with a request id.

Every record carries `request_id`: the id of the HTTP request being answered (taken from
an incoming `X-Request-ID` header when it looks sane, or made up), "-" outside a
request. In JSON mode one line per request is also written by the ops middleware
(logger `turnero.access`: method, route, status, duration_ms) in place of uvicorn's
access line, which runs outside the request and cannot know its id.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("turnero_request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "message", "request_id"]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def log_config(log_format: str = "text", level: str = "INFO", access_log: bool = True) -> dict:
    """A logging.config.dictConfig dictionary; also handed to uvicorn as its log_config,
    so the server's own lines come out in the same format."""
    json_mode = log_format == "json"
    if json_mode:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            "json_ensure_ascii": False,
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    # uvicorn's access line in text mode; in JSON mode turnero.access replaces it.
    uvicorn_access_level = "INFO" if (access_log and not json_mode) else "WARNING"
    turnero_access_level = "INFO" if (access_log and json_mode) else "WARNING"
    # Libraries' routine lines (APScheduler's «Running job … executed successfully» was
    # most of a day's log; Tortoise's «Tortoise-ORM shutdown» after every command) only
    # when debugging; their warnings and errors (a job that raised) always show.
    library_level = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": uvicorn_access_level, "propagate": True},
            "turnero.access": {"handlers": [], "level": turnero_access_level, "propagate": True},
            "apscheduler": {"handlers": [], "level": library_level, "propagate": True},
            "tortoise": {"handlers": [], "level": library_level, "propagate": True},
        },
    }


def configure(log_format: str = "text", level: str = "INFO", access_log: bool = True) -> None:
    logging.config.dictConfig(log_config(log_format, level, access_log))
