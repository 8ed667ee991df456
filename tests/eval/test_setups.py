"""Adapter specs in eval configs (``eval.setups.resolve_adapter``): directories relative to
the config, registry names and ``name@vN``, and the errors for the rest."""

from __future__ import annotations

import json

import pytest

from eval.setups import MissingAdapterError, resolve_adapter


@pytest.fixture
def adapter_dir(tmp_path):
    folder = tmp_path / "configs" / "lora"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
    return folder


def test_a_path_spec_is_taken_from_the_config_folder(adapter_dir, tmp_path):
    base_dir = adapter_dir.parent
    for spec in ("./lora", "../configs/lora", str(adapter_dir)):
        resolved = resolve_adapter(spec, tmp_path / "registry", base_dir)
        assert resolved.path == adapter_dir and resolved.version is None
    with pytest.raises(MissingAdapterError, match="holds no adapter_config.json"):
        resolve_adapter("./nowhere", tmp_path / "registry", base_dir)


def test_a_bare_name_is_a_registry_name_even_beside_a_folder_of_that_name(adapter_dir,
                                                                          tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(adapter_dir.parent)  # "lora" exists here and in the config folder
    with pytest.raises(MissingAdapterError, match="adapter 'lora': unknown adapter 'lora'"):
        resolve_adapter("lora", tmp_path / "registry", adapter_dir.parent)


@pytest.mark.parametrize(("spec", "match"), [
    ("grounded@latest", r"write NAME or NAME@vN, e\.g\. grounded@v1"),
    ("grounded@3", "write NAME or NAME@vN"),
    ("bad name", "not a valid name"),
])
def test_malformed_specs_are_missing_adapters_naming_the_spec(spec, match, tmp_path):
    with pytest.raises(MissingAdapterError, match=f"adapter {spec!r}: .*{match}"):
        resolve_adapter(spec, tmp_path / "registry", tmp_path)
