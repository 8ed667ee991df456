"""Prometheus metrics of one app, in its own registry (several apps may share a process).

- ``assistant_requests_total{route,method,status}`` and
  ``assistant_request_seconds{route,method}``: every HTTP request, by route template
  (``/v1/answer``, never the raw path, so cardinality stays bounded);
- ``assistant_tokens_generated_total``: completion tokens of every answer;
- ``assistant_generations_in_flight``: generations holding a slot now;
- ``assistant_batch_size``: prompts per batched ``generate_many`` call;
- ``assistant_index_info{version}``: 1 for the index version served;
- ``assistant_ready``: 1 once index and model are loaded.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The app's collectors; ``render()`` gives the exposition text and content type."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("assistant_requests_total", "HTTP requests",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("assistant_request_seconds", "HTTP request latency",
                                 ["route", "method"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("assistant_tokens_generated_total",
                              "completion tokens generated", registry=r)
        self.in_flight = Gauge("assistant_generations_in_flight",
                               "generations running or queued", registry=r)
        self.batch_size = Histogram("assistant_batch_size", "prompts per batched generation",
                                    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32), registry=r)
        self.index = Gauge("assistant_index_info", "index version served (1 = current)",
                           ["version"], registry=r)
        self.ready = Gauge("assistant_ready", "1 when index and model are loaded", registry=r)
        self._index_version: str | None = None

    def set_index_version(self, version: str | None) -> None:
        if version == self._index_version:
            return
        if self._index_version is not None:
            self.index.remove(self._index_version)
        if version is not None:
            self.index.labels(version=version).set(1)
        self._index_version = version

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Count and time every HTTP request under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or ("static" if scope["path"].startswith(
                "/static/") else "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(route=path, method=method, status=str(status)).inc()
            self.metrics.latency.labels(route=path, method=method).observe(
                time.perf_counter() - clock)
