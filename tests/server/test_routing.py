"""Request adapter names -> served adapters (``AdapterRouter.resolve``), with fakes for the
adapter set and registry: which names are references, and which are unknown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.answering.models import AdapterError
from assistant.server.routing import AdapterRouter, UnknownAdapterError
from finetune.registry import RegistryError


class FakeSet:
    def __init__(self) -> None:
        self.loaded: dict[str, Path] = {}

    def names(self) -> list[str]:
        return list(self.loaded)

    def add(self, name: str, path: Path) -> None:
        self.loaded[name] = path


@dataclass
class Version:
    name: str
    version: int
    path: Path
    promoted: bool = False
    canary_fraction: float | None = None


class FakeRegistry:
    """``support`` v1 (promoted) and v2; ``draft`` v1 with nothing promoted."""

    versions = {("support", 1): True, ("support", 2): False, ("draft", 1): False}

    def names(self) -> list[str]:
        return ["draft", "support"]

    def get(self, name: str, version: int | None = None) -> Version:
        if version is None:
            version = next((v for (n, v), p in self.versions.items() if n == name and p), None)
            if version is None:
                raise RegistryError(f"adapter {name!r} has no promoted version")
        if (name, version) not in self.versions:
            raise RegistryError(f"unknown adapter {name!r} v{version}")
        return Version(name, version, Path(f"/reg/{name}/v{version:04d}"))

    def choose(self, name: str, rng) -> Version:
        return self.get(name)


@pytest.fixture
def router() -> AdapterRouter:
    return AdapterRouter(FakeSet(), FakeRegistry(), static={"local lora": Path("/x")})


def test_names_and_versions_resolve_to_labels(router):
    assert router.resolve(None) is None
    assert router.resolve("local lora") == "local lora"  # configured: any name goes
    assert router.resolve("support") == "support@v1"
    assert router.resolve("support@v2") == "support@v2"
    assert router.adapters.names() == ["local lora", "support@v1", "support@v2"]


@pytest.mark.parametrize("name", ["hr", "support@v9", "support@vx", "support@2", "a@b@v1",
                                  "../support", "sup port", "/reg/support/v0001"])
def test_unknown_or_malformed_names_are_unknown_adapters(router, name):
    with pytest.raises(UnknownAdapterError) as info:
        router.resolve(name)
    assert info.value.known == ["local lora", "draft", "support"]


def test_a_registered_name_with_nothing_promoted_says_so(router):
    with pytest.raises(AdapterError, match="no promoted version") as info:
        router.resolve("draft")
    assert not isinstance(info.value, UnknownAdapterError)


def test_a_request_name_is_never_taken_for_a_local_folder(router, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "support").mkdir()
    assert router.resolve("support") == "support@v1"
