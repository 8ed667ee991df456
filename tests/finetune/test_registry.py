"""The adapter registry: versions, promotion, rollback, canary, deletion, concurrency."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from core.errors import AssistantError
from finetune import AdapterRegistry, RegistryError, render_version, render_versions


def fake_adapter(directory: Path, loss: float = 1.0, base: str = "tiny") -> Path:
    """A directory shaped like a finished adapter (the registry never loads the weights)."""
    directory.mkdir(parents=True)
    (directory / "adapter_config.json").write_text(json.dumps({"r": 4}))
    (directory / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    manifest = {"base_model_id": base, "base_weights_hash": "abc123",
                "created_at": "2025-01-01T00:00:00+00:00",
                "metrics": {"eval_loss": loss, "tokens_per_second": 10.0}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture()
def reg(tmp_path) -> AdapterRegistry:
    """A registry holding ``support`` v1 and v2, nothing promoted."""
    registry = AdapterRegistry(tmp_path / "adapters")
    for i in (1, 2):
        registry.register("support", fake_adapter(tmp_path / f"src{i}", loss=1.0 / i))
    return registry


def test_register_numbers_versions_and_keeps_the_manifest(reg, tmp_path):
    versions = reg.list()
    assert [(v.name, v.version, v.promoted) for v in versions] == [
        ("support", 1, False), ("support", 2, False)]
    assert versions[0].path == tmp_path / "adapters" / "support" / "v0001"
    assert (versions[1].path / "adapter_model.safetensors").is_file()
    assert versions[1].manifest["metrics"]["eval_loss"] == 0.5
    assert (tmp_path / "src1" / "adapter_config.json").is_file()  # copied, not moved
    assert versions[1].to_json() == {
        "name": "support", "version": 2, "promoted": False, "base_model": "tiny",
        "created_at": "2025-01-01T00:00:00+00:00",
        "metrics": {"eval_loss": 0.5, "tokens_per_second": 10.0}}


def test_register_with_move_and_an_explicit_manifest(reg, tmp_path):
    source = fake_adapter(tmp_path / "src3")
    manifest = {"base_model_id": "other", "base_weights_hash": "fff", "created_at": "now"}
    v = reg.register("support", source, manifest, move=True, promote=True)
    assert v.version == 3 and v.promoted and v.manifest["base_model_id"] == "other"
    assert json.loads((v.path / "manifest.json").read_text()) == manifest
    assert not source.exists()


def test_list_json_is_what_the_cli_prints(reg):
    reg.promote("support", 2)
    data = json.loads(render_versions(reg.list(), as_json=True))
    assert list(data) == ["adapters"]
    assert [(a["version"], a["promoted"]) for a in data["adapters"]] == [(1, False), (2, True)]
    table = render_versions(reg.list())
    assert "promoted" in table.splitlines()[2] and "0.5000" in table
    assert json.loads(render_version(reg.get("support"), as_json=True))["manifest"]
    assert render_versions([]) == "no adapters registered"


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65, "with space"])
def test_unsafe_names_are_refused(reg, tmp_path, name):
    with pytest.raises(RegistryError, match="invalid"):
        reg.register(name, fake_adapter(tmp_path / "src-bad"))
    assert reg.names() == ["support"]
    assert not (tmp_path / "evil").exists()


def test_incomplete_adapters_and_manifests_are_refused(reg, tmp_path):
    half = fake_adapter(tmp_path / "half")
    (half / "adapter_model.safetensors").unlink()
    with pytest.raises(RegistryError, match="adapter_model.safetensors"):
        reg.register("support", half)
    anonymous = fake_adapter(tmp_path / "anonymous")
    with pytest.raises(RegistryError, match="base_weights_hash"):
        reg.register("support", anonymous, {"base_model_id": "tiny"})
    assert [v.version for v in reg.list("support")] == [1, 2]
    assert not [p for p in (tmp_path / "adapters" / "support").iterdir()
                if p.name.startswith(".incoming")]


def test_leftovers_of_a_crashed_register_are_not_versions(reg, tmp_path):
    (tmp_path / "adapters" / "support" / ".incoming-dead" / "adapter").mkdir(parents=True)
    assert [v.version for v in reg.list()] == [1, 2]


def test_unknown_names_and_versions_are_clear_errors(reg):
    with pytest.raises(RegistryError, match="unknown adapter 'nope'.*support"):
        reg.get("nope")
    with pytest.raises(RegistryError, match=r"no version 9; it has \[1, 2\]"):
        reg.get("support", 9)
    with pytest.raises(RegistryError, match="no promoted version"):
        reg.get("support")
    with pytest.raises(RegistryError, match="no version 7"):
        reg.promote("support", 7)
    assert issubclass(RegistryError, AssistantError)


def test_promote_and_rollback(reg):
    assert reg.promote("support", 1).promoted
    reg.promote("support", 2)
    assert reg.get("support").version == 2
    assert [v.promoted for v in reg.list()] == [False, True]
    assert reg.rollback("support").version == 1
    assert reg.get("support").version == 1
    with pytest.raises(RegistryError, match="no earlier promoted version"):
        reg.rollback("support")


def test_canary_serves_its_fraction_with_a_seeded_rng(reg):
    reg.promote("support", 1)
    canary = reg.set_canary("support", 2, 0.25)
    assert canary.canary_fraction == 0.25 and not canary.promoted
    picks = [reg.choose("support", random.Random(7)).version for _ in range(3)]
    assert len(set(picks)) == 1  # same seed, same choice
    rng = random.Random(0)
    draws = [reg.choose("support", rng).version for _ in range(2000)]
    assert 0.22 < draws.count(2) / len(draws) < 0.28
    assert set(draws) == {1, 2}
    reg.clear_canary("support")
    assert {reg.choose("support", rng).version for _ in range(200)} == {1}
    assert reg.get("support", 2).canary_fraction == 0.0


def test_canary_rules(reg):
    with pytest.raises(RegistryError, match="promote a version before"):
        reg.set_canary("support", 2, 0.1)
    reg.promote("support", 1)
    for bad in (0.0, 1.0, -0.5, 2):
        with pytest.raises(RegistryError, match="fraction"):
            reg.set_canary("support", 2, bad)
    with pytest.raises(RegistryError, match="already the promoted"):
        reg.set_canary("support", 1, 0.1)
    reg.set_canary("support", 2, 0.5)
    reg.promote("support", 2)  # promoting the canary ends the canary
    assert reg.get("support").canary_fraction == 0.0
    assert {reg.choose("support", random.Random(1)).version for _ in range(50)} == {2}


def test_delete_rules(reg, tmp_path):
    reg.promote("support", 1)
    with pytest.raises(RegistryError, match="promoted version"):
        reg.delete("support", 1)
    assert reg.get("support").version == 1
    reg.set_canary("support", 2, 0.1)
    with pytest.raises(RegistryError, match="canary version"):
        reg.delete("support", 2)
    assert reg.delete("support", 2, force=True).version == 2
    assert [v.version for v in reg.list()] == [1]
    assert reg.choose("support", random.Random(0)).version == 1  # canary went with it
    reg.delete("support", 1, force=True)
    assert reg.list() == []
    with pytest.raises(RegistryError, match="unknown adapter"):
        reg.get("support")
    # version numbers are never reused, so a manifest or log naming v2 stays unambiguous
    assert reg.register("support", fake_adapter(tmp_path / "src9")).version == 3


def test_state_token_changes_on_every_promotion_and_canary_change(reg):
    seen = [reg.state_token()]
    assert reg.state_token() == seen[0]  # reads do not change it
    for change in (lambda: reg.promote("support", 1), lambda: reg.promote("support", 2),
                   lambda: reg.rollback("support"), lambda: reg.set_canary("support", 2, 0.1),
                   lambda: reg.clear_canary("support")):
        change()
        token = reg.state_token()
        assert token not in seen
        seen.append(token)
    reg.get("support")
    reg.choose("support", random.Random(0))
    assert reg.state_token() == seen[-1]
    assert AdapterRegistry(reg.root).state_token() == seen[-1]  # another process sees it


def test_concurrent_promotes_and_registers_stay_consistent(reg, tmp_path):
    errors: list[BaseException] = []
    registered: list[int] = []

    def promoter(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(30):
                reg.promote("support", rng.choice([1, 2]))
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    def registrar(i: int) -> None:
        try:
            registered.append(reg.register("support", fake_adapter(tmp_path / f"c{i}")).version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=promoter, args=(s,)) for s in range(4)]
    threads += [threading.Thread(target=registrar, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(registered) == [3, 4, 5, 6]  # every register got its own version
    state = json.loads((reg.root / "support" / "state.json").read_text())
    assert state["promoted"] in (1, 2) and state["history"][-1] == state["promoted"]
    assert len(state["history"]) == len(set(state["history"]))
    assert state["last_version"] == 6
    assert sum(v.promoted for v in reg.list()) == 1
