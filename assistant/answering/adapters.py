"""Several named LoRA adapters served from one copy of a base model.

``AdapterSet(loaded)`` wraps a ``LoadedModel``; ``add(name, path)`` loads a peft LoRA
adapter next to the others (the base weights are shared, each adapter adds a few MB).
Generation picks the adapter per call: ``generation.generate(adapters, ..., adapter="hr")``
or ``adapter=None`` for the plain base model.

Which adapter is active is global state on the model, so every generation holds the
set's lock from switching until its last token: calls are serialized, one at a time.
A server that wants more throughput batches concurrent requests that use the same
adapter (``generation.generate_batch``) rather than running them in parallel.

An adapter must have been trained on this very base: its ``manifest.json`` (keys
``base_model_id`` and ``base_weights_hash``), or failing that its
``adapter_config.json`` ``base_model_name_or_path``, must name the loaded model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.answering.models import MANIFEST_NAME, AdapterError, LoadedModel
from core.settings import get_settings

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"


def adapter_dir_problem(path: Path) -> str | None:
    """Why ``path`` is no LoRA adapter directory (``no such directory``, or ``has no
    adapter_config.json; ...``), or None; checked before loading, by the command line and
    the server's start-up check."""
    where = path.expanduser()
    if not where.exists():
        return "no such directory"
    if not (where / ADAPTER_CONFIG).is_file():
        return f"has no {ADAPTER_CONFIG}; not a LoRA adapter directory"
    return None


class AdapterSet:
    """A ``LoadedModel`` plus named LoRA adapters, switched per generation call.

    After the first ``add`` the base model's modules carry LoRA layers, so generate
    through this object (``generation`` refuses the bare ``LoadedModel`` then).
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.lock = loaded.lock  # one lock per model: direct and adapter calls share it
        self._peft: Any = None  # peft.PeftModel once the first adapter is added
        self._paths: dict[str, Path] = {}

    def names(self) -> list[str]:
        """Names of the loaded adapters, in the order they were added."""
        return list(self._paths)

    def path(self, name: str) -> Path:
        """Directory the adapter ``name`` was loaded from; ``AdapterError`` if unknown."""
        self.check(name)
        return self._paths[name]

    def add(self, name: str, path: str | Path | None = None) -> None:
        """Load the LoRA adapter in ``path`` (default ``$ASSISTANT_HOME/adapters/<name>``).

        Raises ``AdapterError`` when the name is taken or empty, the directory holds no
        peft adapter, the adapter was trained on another base model, or peft cannot load
        it. Blocks while a generation is running.
        """
        if not name or not name.strip():
            raise AdapterError("adapter name must not be empty")
        if name in self._paths:
            raise AdapterError(f"adapter {name!r} is already loaded (from {self._paths[name]})")
        where = Path(path).expanduser() if path is not None else get_settings().adapters_dir / name
        if not (where / ADAPTER_CONFIG).is_file():
            raise AdapterError(f"adapter {name!r}: {where} has no {ADAPTER_CONFIG}")
        self._check_base(name, where)
        from peft import PeftModel

        with self.lock:
            try:
                if self._peft is None:
                    self._peft = PeftModel.from_pretrained(
                        self.loaded.model, str(where), adapter_name=name
                    )
                    self._peft.eval()
                else:
                    self._peft.load_adapter(str(where), adapter_name=name)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise AdapterError(f"adapter {name!r}: peft cannot load {where}: {exc}") from exc
            self._paths[name] = where
        logger.info("adapter %r loaded from %s onto %s", name, where, self.loaded.model_id)

    def remove(self, name: str) -> None:
        """Unload adapter ``name``; ``AdapterError`` if unknown."""
        self.check(name)
        with self.lock:
            self._peft.delete_adapter(name)
            del self._paths[name]

    def check(self, name: str | None) -> None:
        """Raise ``AdapterError`` listing the known adapters when ``name`` is not one."""
        if name is not None and name not in self._paths:
            known = ", ".join(repr(n) for n in self._paths) or "none loaded"
            raise AdapterError(f"unknown adapter {name!r}; known adapters: {known}")

    @contextmanager
    def activate(self, name: str | None) -> Iterator[Any]:
        """Hold the lock with adapter ``name`` (or none, for ``None``) active.

        Yields the model object to call ``generate`` on. Raises ``AdapterError`` for an
        unknown name before taking the lock.
        """
        self.check(name)
        with self.lock:
            if self._peft is None:
                yield self.loaded.model
            elif name is None:
                with self._peft.disable_adapter():
                    yield self._peft
            else:
                self._peft.set_adapter(name, inference_mode=True)
                yield self._peft

    def _check_base(self, name: str, where: Path) -> None:
        loaded = self.loaded
        manifest_file = where / MANIFEST_NAME
        manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
        want_id, want_hash = manifest.get("base_model_id"), manifest.get("base_weights_hash")
        if want_hash is not None and want_hash != loaded.weights_hash:
            raise AdapterError(
                f"adapter {name!r} was trained on base {want_id or '?'} (weights {want_hash}), "
                f"but the loaded base is {loaded.model_id} (weights {loaded.weights_hash})"
            )
        if want_id is not None and want_id != loaded.model_id:
            raise AdapterError(
                f"adapter {name!r} was trained on base {want_id!r}, "
                f"but the loaded base is {loaded.model_id!r}"
            )
        if want_id is not None or want_hash is not None:
            return
        config = json.loads((where / ADAPTER_CONFIG).read_text())
        recorded = config.get("base_model_name_or_path")
        if not recorded:
            logger.warning("adapter %r records no base model; assuming %s", name, loaded.model_id)
            return
        accepted = {loaded.model_id, str(loaded.path)}
        if recorded not in accepted and Path(recorded).name != loaded.model_id:
            raise AdapterError(
                f"adapter {name!r} was trained on base {recorded!r}, "
                f"but the loaded base is {loaded.model_id!r} ({loaded.path})"
            )
