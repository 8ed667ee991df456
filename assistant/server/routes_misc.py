"""Search, probes, metrics and the chat page.

- ``GET /v1/search?q=...&k=5&mode=hybrid&source=PATTERN`` (key required; ``mode``
  defaults to ``server_search_mode``):
  ``{"query", "mode", "k", "index_version", "results": [passage, ...]}``;
- ``GET /v1/documents?source=PATTERN&status=current&limit=1000&offset=0`` (key with the
  ``search`` action): the documents the index answers from, in index order, that match
  the filters and the key may see:
  ``{"index_version", "total", "offset", "limit", "documents": [document, ...]}``
  (``DocRecord.to_json()``; ``total`` counts the filtered documents, not the page);
- ``GET /v1/keys`` (an ``admin`` key): the key store's keys and scopes, never tokens;
- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process serves HTTP, 503
  ``{"status": "failed", "reasons": [...]}`` once loading the model failed (it never
  becomes ready: a container health check should restart or alert);
- ``GET /readyz``: 200 with index version, model and adapters once both index and model
  are loaded, else 503 with ``reasons``;
- ``GET /metrics``: Prometheus text;
- ``GET /``: the support-chat page (``static/index.html``), no external resources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from assistant.server.auth import check_sources, key_of, require_key
from assistant.server.errors import ApiError, error_responses, from_library
from assistant.server.routes_answer import KEYED, runtime_of
from assistant.server.schemas import MAX_K, NOT_BLANK, Mode, SourcePattern
from index.access import MAX_DOCUMENTS, select_documents
from ingest.versions import DocStatus

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()


async def known_query(request: Request) -> None:
    """A dependency: 422 ``validation_error`` naming a query parameter the endpoint does not
    declare (``?foo=bar``, or a typo such as ``?mdoe=dense``), as unknown body fields are;
    what it declares is read from the matched route itself."""
    allowed = {p.alias for p in request.scope["route"].dependant.query_params}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ApiError(422, "validation_error",
                       f"unknown query parameter {unknown[0]!r}; this endpoint takes "
                       f"{', '.join(sorted(allowed))}", field=f"query.{unknown[0]}")


@router.get("/v1/search", dependencies=[Depends(require_key), Depends(known_query)],
            tags=["search"],
            summary="Search the index without generating",
            responses={**KEYED, **error_responses(400, 422, 503)})
async def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=4000, json_schema_extra=NOT_BLANK,
                            description="the query (not blank)")],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
    mode: Mode | None = None,
    source: Annotated[list[SourcePattern] | None,
                      Query(max_length=50, description="source filter, repeatable")] = None,
) -> JSONResponse:
    runtime = runtime_of(request)
    mode = mode or runtime.settings.server_search_mode
    searcher = runtime.require_searcher()
    if not q.strip():
        raise ApiError(422, "validation_error", "query.q: the query is empty", field="query.q")
    key = key_of(request)
    check_sources(key, source, "query.source")
    try:
        passages = await run_in_threadpool(searcher.search, q, k, mode, source or None,
                                           access=key.scopes.access)
    except Exception as exc:
        raise from_library(exc, field="query") from exc
    runtime.screen(key, [p.source for p in passages])
    return JSONResponse({
        "query": q, "mode": mode, "k": k, "index_version": searcher.version,
        "results": [p.to_json() for p in passages],
    })


@router.get("/v1/documents",
            dependencies=[Depends(require_key), Depends(known_query)],
            tags=["search"],
            summary="The documents the index answers from, with their version status",
            responses={**KEYED, **error_responses(422, 503)})
async def documents(
    request: Request,
    source: Annotated[list[SourcePattern] | None,
                      Query(max_length=50, description="source filter, repeatable")] = None,
    status: Annotated[DocStatus | None,
                      Query(description="only documents with this status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DOCUMENTS,
                                description="at most this many documents")] = 1000,
    offset: Annotated[int, Query(ge=0, description="documents to skip (after filtering)")] = 0,
) -> JSONResponse:
    """A page of the served version's documents: the same filters as a search (source
    patterns, the key's scope), plus ``status``, so agents can tell what is current."""
    runtime = runtime_of(request)
    searcher = runtime.require_searcher()
    key = key_of(request)
    check_sources(key, source, "query.source")
    version = searcher.version
    try:
        listed = await run_in_threadpool(searcher.documents)
        selected = select_documents(listed, source or None, status, key.scopes.access)
    except Exception as exc:
        raise from_library(exc, field="query") from exc
    page = selected[offset:offset + limit]
    runtime.screen(key, [d.source for d in page])
    return JSONResponse({
        "index_version": version, "total": len(selected), "offset": offset, "limit": limit,
        "documents": [d.to_json() for d in page],
    })


@router.get("/healthz", tags=["ops"], summary="Liveness: the process serves HTTP",
            responses={503: {"description": "loading the model failed, so the server will "
                                            "never be ready: `{\"status\": \"failed\", "
                                            "\"reasons\": [...]}`"}})
async def healthz(request: Request) -> JSONResponse:
    failed = runtime_of(request).loading_error
    if failed:
        return JSONResponse({"status": "failed", "reasons": [f"model failed to load: {failed}"]},
                            status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz", tags=["ops"], summary="Readiness: index and model loaded",
            responses={503: {"description": "not ready: `{\"ready\": false, \"reasons\": "
                                            "[...]}`"}})
async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    reasons = runtime.not_ready_reasons() if runtime.answerer is None else []
    if reasons:
        return JSONResponse({"ready": False, "reasons": reasons}, status_code=503,
                            headers={"Retry-After": "5"})
    searcher = runtime.services.searcher
    return JSONResponse({
        "ready": True,
        "index_version": searcher.version,
        "model": runtime.model_id,
        "adapters": runtime.router.known() if runtime.router else [],
    })


@router.get("/metrics", tags=["ops"], summary="Prometheus metrics",
            response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"}})
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/", include_in_schema=False)
async def index_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/v1/keys", dependencies=[Depends(require_key)], tags=["admin"],
            summary="The API keys of the key store, without their tokens (admin keys only)")
async def keys(request: Request) -> JSONResponse:
    store = request.app.state.auth.store
    listed = await run_in_threadpool(store.list)
    return JSONResponse({"keys": [k.to_json() for k in listed]})
