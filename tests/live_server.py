"""A real uvicorn server on loopback for API tests, and the ``live`` fixture that stops
what a test started. A plain module so conftests of several folders can share it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest


class Live:
    """A uvicorn server running an app in a thread on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)
        self.thread.start()
        until = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > until:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "uvicorn did not shut down"


@pytest.fixture(name="live")
def live_fixture() -> Iterator[Callable[..., Live]]:
    """``live(app) -> Live``: started servers are stopped after the test."""
    running: list[Live] = []

    def start(app) -> Live:
        running.append(Live(app))
        return running[-1]

    yield start
    for server in running:
        if server.thread.is_alive():
            server.stop()
