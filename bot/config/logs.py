"""Structured logging, configured by the entry point (never at import time)."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import EventDict, WrappedLogger

from bot.domain.redaction import redact_text


def redact_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """No log line carries a secret a platform or an error message handed us."""
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in event.items()}


# Libraries that narrate their own routine (APScheduler's "Running job" every tick, each HTTP
# request): heard only at debug level, so a day's log is about rollbacks.
CHATTY = (
    "apscheduler",
    "aiohttp.access",
    "alembic",
    "botocore",
    "urllib3",
    "kubernetes",
    "asyncio",
)


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if console
        else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact_secrets, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in CHATTY:
        # their warnings (urllib3's Retrying on every failed call) repeat what our own events
        # and /readyz already say once, in our words
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.ERROR)
