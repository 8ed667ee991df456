"""The FastAPI app: ``create_app(settings, services=None)`` and ``serve(settings)``.

``create_app`` wires routes, error handlers, API keys, the body-size limit and metrics.
With ``services`` given (tests, embedding) they are used at once; without, the real ones
are built from ``settings`` in a background thread when the app starts, so ``/healthz``
answers at once and ``/readyz`` says 503 until the model and index are loaded. ``serve``
first checks what it can without loading (``startup.check_settings``: device, model,
adapters, verifier embedder, unit selector) and does not start when one is wrong; a load
that fails in the background makes ``/healthz`` answer 503 too, so a container's health
check sees a server that will never be ready. A
background task calls ``Runtime.refresh`` every ``server_refresh_s`` seconds: it picks
up a newly published index version (the ``Searcher`` swaps it in atomically; searches in
flight finish on the old one), opens an index that appeared after start, and loads newly
promoted adapter versions.

Settings (``core.settings.Settings``, env ``ASSISTANT_SERVER_*``): ``server_index``,
``server_host``, ``server_port``, ``server_api_keys`` and ``server_api_keys_file``
(full-access keys), ``server_keys_db`` (the key store, default ``home/keys.sqlite``;
``assistant.server.auth``), ``server_model``,
``server_device``, ``server_adapters`` (name -> path), ``server_registry`` (default
``home/adapters``), ``server_feedback_db`` (default ``home/feedback.sqlite3``),
``server_verifier_embedder`` (the embedder citations are checked with; default: the
index's, set it to the bundled one when the index uses a tuned embedder),
``server_search_mode`` (a request's ``mode`` when it names none; ``hybrid``, but
``dense`` ranks best with a tuned embedder),
``server_max_request_bytes`` (413 past it), ``server_max_question_chars``,
``server_max_new_tokens``, ``server_max_concurrent`` (429 past it),
``server_timeout_s`` (504 past it), ``server_batch_window_ms``, ``server_max_batch``,
``server_refresh_s``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from assistant.server import errors
from assistant.server.auth import Auth
from assistant.server.limits import BodyLimit
from assistant.server.metrics import Metrics, MetricsMiddleware
from assistant.server.routes_answer import router as answer_router
from assistant.server.routes_misc import STATIC_DIR
from assistant.server.routes_misc import router as misc_router
from assistant.server.routes_openai import router as openai_router
from assistant.server.services import Runtime, Services, build_services
from assistant.server.startup import check_settings
from core.errors import AssistantError, ConfigError
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

DESCRIPTION = """Answers questions from your own documents, with citations.

Send `Authorization: Bearer KEY` (or `X-API-Key: KEY`) to every `/v1` route when the
server has API keys. A key's scopes decide which documents it retrieves from, which
adapters and actions (search, answer, feedback, admin) it may use (403 otherwise) and
its request rate (429 past it). Errors are JSON: `{"error": {"type", "message", "field"}}`.
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. ``services=None``: load the real ones from ``settings`` on startup.

    Raises ``ConfigError`` for unusable API keys (empty, or with surrounding spaces) or
    an unreadable key file.
    """
    settings = settings or get_settings()
    auth = Auth(settings)  # first: unusable keys fail before anything starts
    metrics = Metrics()
    runtime = Runtime(settings, metrics)
    runtime.auth = auth
    if services is not None:
        runtime.install(services)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is None:
            threading.Thread(target=_load, args=(runtime,), name="assistant-load",
                             daemon=True).start()
        upkeep = asyncio.create_task(_upkeep(runtime, settings.server_refresh_s))
        try:
            yield
        finally:
            upkeep.cancel()
            runtime.close()

    app = FastAPI(title="Acme assistant", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.auth = auth
    app.state.started = time.time()
    errors.install(app)
    app.include_router(answer_router)
    app.include_router(openai_router)
    app.include_router(misc_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.server_max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts 413s too
    return app


def _load(runtime: Runtime) -> None:
    try:
        runtime.install(build_services(runtime.settings))
    except Exception as exc:  # reported by /readyz and /healthz (503), which stay up
        logger.exception("cannot load the model")
        runtime.loading_error = f"{type(exc).__name__}: {exc}"


async def _upkeep(runtime: Runtime, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(runtime.refresh)
        except Exception:  # keep refreshing; one failed round must not stop reloads
            logger.exception("background refresh failed")


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1: addresses only this machine reaches."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_open_access(settings: Settings, insecure_no_auth: bool = False) -> None:
    """``ConfigError`` when the server would answer anyone on a non-loopback address:
    no key in the environment, no key store, and no ``insecure_no_auth``."""
    if is_loopback(settings.server_host) or Auth(settings).enabled:
        return
    if insecure_no_auth:
        logger.warning("serving on %s WITHOUT API keys (--insecure-no-auth): anyone who can "
                       "reach it can read every document", settings.server_host)
        return
    raise ConfigError(
        f"refusing to serve on {settings.server_host} without API keys: anyone who can reach "
        f"it could read every document. Create a key with `assistant keys create NAME` (key "
        f"store {settings.keys_db}), or set ASSISTANT_SERVER_API_KEYS_FILE (a file with one "
        f"key a line) or ASSISTANT_SERVER_API_KEYS (a JSON list); or pass --insecure-no-auth "
        f"if a proxy in front checks access")


def serve(settings: Settings | None = None, insecure_no_auth: bool = False) -> None:
    """Run the server with uvicorn until interrupted (``assistant serve``).

    Raises ``ConfigError`` (see ``check_open_access``) before starting on a non-loopback
    address without API keys unless ``insecure_no_auth``, or naming the setting when the
    device, model, an adapter, the verifier embedder or the unit selector cannot be had
    (``startup.check_settings``); ``AssistantError`` when uvicorn cannot start (its exit
    code 3 would read as ingest's "files skipped").
    """
    import uvicorn

    settings = settings or get_settings()
    check_open_access(settings, insecure_no_auth)
    check_settings(settings)  # before listening: a server that cannot load never starts
    if settings.server_index is None:
        logger.warning("no index configured (--index); the server will not be ready")
    app = create_app(settings)
    try:
        uvicorn.run(app, host=settings.server_host, port=settings.server_port,
                    log_level="info", timeout_graceful_shutdown=10)
    except SystemExit as exc:
        if exc.code != 3:  # uvicorn's startup failure, which it has logged
            raise
        raise AssistantError(
            f"the server could not start on {settings.server_host}:{settings.server_port} "
            "(the error above says why: the port in use, or a host name that does not "
            "resolve)") from None
