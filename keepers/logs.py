"""structlog set-up shared by the keeper's processes: one JSON object per
line on stderr, with a timestamp, the level and whatever context the caller
bound (``block``, ``borrower``, ``tx``, ``nonce``).

Set ``NAVLEND_LOG_FORMAT=console`` for a human-readable rendering.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure_logging(level: str | None = None) -> None:
    """Configures structlog once per process (idempotent)."""
    level_name = (level or os.environ.get("NAVLEND_LOG_LEVEL", "INFO")).upper()
    renderer = (
        structlog.dev.ConsoleRenderer()
        if os.environ.get("NAVLEND_LOG_FORMAT") == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level_name, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
