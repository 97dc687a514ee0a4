"""structlog wiring: one processor chain for structlog and stdlib loggers alike; the console
in the format asked for, and (outside tests) a rotating JSON-lines file per process under var/log."""

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog

SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


@dataclass(frozen=True)
class LogFiles:
    """Where and how big: <folder>/<process>.jsonl, rotated at max_bytes, `backups` old files kept."""

    folder: Path
    process: str
    max_bytes: int
    backups: int


def process_name(argv: list[str] | None = None) -> str:
    """web, worker, beat, relay, or the management command's name: the log file of this process."""
    argv = sys.argv if argv is None else argv
    words = [os.path.basename(word) for word in argv]
    if "uvicorn" in words or any(word.endswith(("asgi:application", "daphne")) for word in words):
        return "web"
    celery = any("celery" in word for word in argv)  # `python -m celery` runs .../celery/__main__.py
    for role in ("worker", "beat"):
        if celery and role in words:
            return role
    if "manage.py" in words and len(words) > words.index("manage.py") + 1:
        return words[words.index("manage.py") + 1]
    return "desk"


def configure_logging(*, log_format: str, level: str, files: LogFiles | None = None) -> dict:
    """Configure structlog and return the LOGGING dict for Django."""
    renderer = structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatters = {"structured": _formatter(renderer)}
    handlers = {"console": {"class": "logging.StreamHandler", "formatter": "structured"}}
    if files:
        _configured["files"] = files
        handlers["file"] = {"()": "apps.common.logging.file_handler_build", "files": files}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "ccxt": {"level": "WARNING"},
            "asyncio": {"level": "WARNING"},
        },
    }


_configured: dict[str, LogFiles] = {}


def file_handler_build(*, files: LogFiles | None = None) -> logging.Handler | None:
    """The rotating JSON-lines file of this process (None when log files are off). Safe with
    several writers (a Celery prefork pool shares its parent's file): rotation takes a lock file
    beside the log."""
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    files = files or _configured.get("files")
    if files is None:
        return None
    files.folder.mkdir(parents=True, exist_ok=True)
    handler = ConcurrentRotatingFileHandler(
        str(files.folder / f"{files.process}.jsonl"), maxBytes=files.max_bytes, backupCount=files.backups, encoding="utf-8"
    )
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(**_formatter_options(structlog.processors.JSONRenderer())))
    return handler


def _formatter_options(renderer) -> dict:
    return {
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
        "foreign_pre_chain": SHARED_PROCESSORS,
    }


def _formatter(renderer) -> dict:
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
        "foreign_pre_chain": SHARED_PROCESSORS,
    }


def get_logger(name: str):
    return structlog.get_logger(name)


__all__ = ["LogFiles", "configure_logging", "file_handler_build", "get_logger", "logging", "process_name"]
