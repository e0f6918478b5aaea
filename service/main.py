"""ASGI entry point for ``uvicorn service.main:app`` (settings from the environment)."""

import logging

from service.app import create_app
from service.config import Settings

_settings = Settings()
logging.basicConfig(
    level=_settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
)
app = create_app(_settings)
