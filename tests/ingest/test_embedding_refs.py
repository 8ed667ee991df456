"""Which embedder a model string names (bundled, tuned ``NAME@vN``, path, hub id), and
the embedder's device errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from isolated_home import isolated_home  # noqa: F401  (autouse: a fresh ASSISTANT_HOME)

from core.errors import ConfigError
from ingest.embedding import Embedder, EmbedderConfig, resolve_model_path


def test_a_tuned_reference_is_a_version_folder_under_the_home():
    from core.settings import get_settings

    folder = get_settings().embedders_dir / "acme-ret" / "v0002"
    folder.mkdir(parents=True)
    assert resolve_model_path("acme-ret@v2") == str(folder)
    with pytest.raises(ConfigError, match=r"no tuned embedder at .*v0007"):
        resolve_model_path("acme-ret@v7")


def test_paths_names_and_hub_ids_pass_through(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local@v1").mkdir()  # an existing folder wins over the reference
    for model in ("local@v1", "out/acme-ret@v1", "./acme-ret@v1", "~/m@v1",
                  "sentence-transformers/all-mpnet-base-v2", "bert-base-uncased",
                  "acme-ret@latest", "bad name@v1"):
        assert resolve_model_path(model) == model
    assert Path(resolve_model_path("all-MiniLM-L6-v2")).is_dir()  # the bundled copy


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_names_the_field():
    with pytest.raises(ConfigError, match=r"embedder\.device 'cuda:0'.*no CUDA GPU"):
        Embedder(EmbedderConfig(device="cuda:0"))


def test_an_unknown_device_is_refused_by_the_config():
    with pytest.raises(ConfigError, match=r"embedder\.device must be"):
        EmbedderConfig(device="mps")


def test_a_folder_that_holds_no_model_is_a_config_error(tmp_path):
    (tmp_path / "notes.md").write_text("# not a model\n")
    with pytest.raises(ConfigError, match=r"cannot load embedder .*(model|config)"):
        Embedder(EmbedderConfig(model=str(tmp_path)))
