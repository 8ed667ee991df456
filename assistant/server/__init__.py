"""The HTTP server: answers, streamed chat, OpenAI-compatible chat, search, feedback.

``create_app(settings, services=None)`` builds the FastAPI app; ``serve(settings)`` runs
it with uvicorn (``assistant serve``). See ``app.py`` for the settings and the routes'
modules for the request and response shapes.
"""

from assistant.server.app import create_app, serve
from assistant.server.batching import BatchingGenerator
from assistant.server.services import Services, build_services

__all__ = ["BatchingGenerator", "Services", "build_services", "create_app", "serve"]
