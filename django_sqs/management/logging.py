"""Logging for the management commands, from ``--verbosity``."""

from __future__ import annotations

import logging

LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


def configure(verbosity: int) -> None:
    """Set the ``django_sqs`` logger's level from --verbosity, and give it a handler
    unless the project's LOGGING already routes it somewhere."""
    logger = logging.getLogger("django_sqs")
    logger.setLevel(LEVELS.get(verbosity, logging.DEBUG))
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
