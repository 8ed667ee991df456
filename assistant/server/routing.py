"""Which loaded LoRA adapter answers a request that names an adapter.

Adapters come from two places:

- the adapter registry (``finetune.registry.AdapterRegistry``): a request for ``support``
  gets the promoted version, or the canary version with its configured probability; a
  request for ``support@v3`` gets exactly version 3. Each version is loaded into the
  ``AdapterSet`` under the name ``support@v3``, which is also what the answer record's
  ``adapter`` field says, so every stored answer names the version that wrote it;
- adapters configured by path (``server_adapters``), loaded under their plain name.

``sync()`` (run by the server every few seconds) polls ``registry.state_token()`` and,
when it changed, loads the newly promoted and canary versions before requests ask for
them; ``resolve()`` reads the registry state itself, so a promotion or rollback applies
to the next request even before a sync. Versions stay loaded once loaded (a few MB
each; a request that already resolved to one must be able to finish on it).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.answering.models import AdapterError
from core.refs import RefError, format_ref, parse_ref

logger = logging.getLogger(__name__)


class UnknownAdapterError(AdapterError):
    """A request named an adapter that is neither configured nor registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        shown = ", ".join(repr(n) for n in known) or "none"
        super().__init__(f"unknown adapter {name!r}; known adapters: {shown}")
        self.name, self.known = name, known


class AdapterRouter:
    """Resolve request adapter names to ``AdapterSet`` names, loading versions on demand.

    ``adapters`` is the ``AdapterSet`` (None: a generator without adapter support, so
    only the base model is served); ``registry`` an ``AdapterRegistry`` or None;
    ``static`` maps names to adapter directories loaded at start.
    """

    def __init__(self, adapters: Any, registry: Any = None,
                 static: Mapping[str, Path] | None = None, seed: int | None = None) -> None:
        self.adapters, self.registry = adapters, registry
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # one adapter load at a time
        self._token: str | None = None
        for name, path in (static or {}).items():
            self._require_set().add(name, path)

    def known(self) -> list[str]:
        """Names a request may use: configured adapters and registry names with a
        promoted version."""
        names = [n for n in self._loaded() if "@v" not in n]
        for name in self._registry_names():
            if name not in names:
                names.append(name)
        return names

    def describe(self) -> list[dict]:
        """One entry per servable name: what it resolves to now (for ``/v1/models``)."""
        out = []
        for name in self.known():
            entry: dict[str, Any] = {"id": name, "adapter": name, "canary": None}
            if self.registry is not None and name in self._registry_names():
                try:
                    promoted = self.registry.get(name)
                    entry["adapter"] = format_ref(name, promoted.version)
                    canary = next((v for v in self.registry.list(name) if v.canary_fraction), None)
                    if canary is not None:
                        entry["canary"] = {"adapter": format_ref(name, canary.version),
                                           "fraction": canary.canary_fraction}
                except Exception as exc:  # registry errors: report, keep listing the rest
                    entry["error"] = str(exc)
            out.append(entry)
        return out

    def resolve(self, name: str | None) -> str | None:
        """The ``AdapterSet`` name to generate with for request adapter ``name``.

        ``None`` stays ``None`` (the base model). Raises ``UnknownAdapterError`` naming
        the known adapters, or ``AdapterError`` when a registered version cannot be loaded.
        """
        if name is None:
            return None
        if name in self._loaded() and "@v" not in name:
            return name
        try:
            # A request names a registry entry, never a path on this machine: no disk check.
            ref = parse_ref(name, on_disk=False)
        except RefError as exc:  # no registry holds such a name
            raise UnknownAdapterError(name, self.known()) from exc
        if self.registry is not None and ref is not None:
            from finetune.registry import RegistryError

            try:
                if ref.version is not None:
                    chosen = self.registry.get(ref.name, ref.version)
                else:
                    chosen = self.registry.choose(ref.name, self._rng)
            except RegistryError as exc:
                if ref.version is None and name in self._registry_names():
                    raise AdapterError(str(exc)) from exc  # registered, nothing promoted
                raise UnknownAdapterError(name, self.known()) from exc
            return self._ensure(chosen)
        raise UnknownAdapterError(name, self.known())

    def sync(self) -> bool:
        """Load promoted and canary versions if the registry changed; True if it had.

        A version that fails to load is logged and skipped (requests for it then get
        the error); the rest still load.
        """
        if self.registry is None:
            return False
        token = self.registry.state_token()
        if token == self._token:
            return False
        for version in self.registry.list():
            if version.promoted or version.canary_fraction:
                try:
                    self._ensure(version)
                except AdapterError as exc:
                    logger.warning("cannot serve adapter %s v%d: %s", version.name,
                                   version.version, exc)
        changed = self._token is not None
        self._token = token
        if changed:
            logger.info("adapter registry changed; now serving %s", self.describe())
        return changed

    def _ensure(self, version: Any) -> str:
        label = format_ref(version.name, version.version)
        with self._lock:
            if label not in self._loaded():
                self._require_set().add(label, version.path)
        return label

    def _loaded(self) -> list[str]:
        return self.adapters.names() if self.adapters is not None else []

    def _registry_names(self) -> list[str]:
        return self.registry.names() if self.registry is not None else []

    def _require_set(self) -> Any:
        if self.adapters is None:
            raise AdapterError("this generator serves the base model only; no adapters")
        return self.adapters
