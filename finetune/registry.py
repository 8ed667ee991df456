"""Versioned LoRA adapters on disk: register, promote, roll back, canary, delete.

Layout under the registry root (``$ASSISTANT_HOME/adapters`` by default; the caller
passes it)::

    ROOT/NAME/state.json      which version is promoted, the promotion history, the canary
    ROOT/NAME/v0001/          adapter_model.safetensors, adapter_config.json, manifest.json
    ROOT/NAME/.lock           file lock serializing writers (threads and processes)

Each name's versions are a ``core.artifacts.VersionStore`` (``v`` + 4 digits): a
version directory appears only once complete (``register`` copies into a hidden
``.incoming-*`` directory, fsyncs it and renames it into place under the lock).
``state.json`` is replaced atomically (``write_atomic``) under the lock, so readers never
see a torn state and a server can poll ``state_token()`` to pick up a promotion or
rollback without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.artifacts import (
    ADAPTER_VERSIONS,
    StoreLockedError,
    VersionStore,
    write_atomic,
)
from core.errors import AssistantError

if TYPE_CHECKING:
    from finetune.provenance import DataCheck

logger = logging.getLogger(__name__)

STATE_NAME = "state.json"
MANIFEST_NAME = "manifest.json"
REQUIRED_FILES = ("adapter_config.json", "adapter_model.safetensors")
REQUIRED_MANIFEST_KEYS = ("base_model_id", "base_weights_hash")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
VERSION_FORMAT = ADAPTER_VERSIONS
INCOMING_PREFIX = ".incoming-"
_LOCK_TIMEOUT_S = 60.0


class RegistryError(AssistantError):
    """An adapter name or version is invalid or unknown, or a registry change is refused."""


class _Random(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True)
class AdapterVersion:
    """One registered adapter version; ``path`` holds the peft files and ``manifest.json``."""

    name: str
    version: int
    path: Path
    promoted: bool
    canary_fraction: float
    manifest: dict[str, Any] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The fields ``assistant adapters list --json`` prints for this version."""
        return {
            "name": self.name,
            "version": self.version,
            "promoted": self.promoted,
            "base_model": self.manifest.get("base_model_id"),
            "created_at": self.manifest.get("created_at"),
            "metrics": self.manifest.get("metrics", {}),
        }


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe single path component, else raise ``RegistryError``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RegistryError(
            f"adapter name {name!r} is invalid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


class AdapterRegistry:
    """Adapters under ``root``, one directory per name, one sub-directory per version."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    # ---- reading -------------------------------------------------------------------

    def names(self) -> list[str]:
        """Registered adapter names, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))

    def list(self, name: str | None = None) -> list[AdapterVersion]:
        """Every version (of ``name``, or of all names), by name then version."""
        names = [check_name(name)] if name is not None else self.names()
        out: list[AdapterVersion] = []
        for n in names:
            state = self._read_state(n)
            out.extend(self._version(n, v, state) for v in self._versions(n))
        return out

    def get(self, name: str, version: int | None = None) -> AdapterVersion:
        """Version ``version`` of ``name``, or the promoted one for ``None``.

        Raises ``RegistryError`` for an unknown name or version, or when nothing is promoted.
        """
        state = self._read_state(self._known(name))
        if version is None:
            version = state["promoted"]
            if version is None:
                raise RegistryError(
                    f"adapter {name!r} has no promoted version; promote one of "
                    f"{self._versions(name)} first"
                )
        self._check_version(name, version)
        return self._version(name, version, state)

    def state_token(self) -> str:
        """A short digest of every name's state; it changes on any promotion, rollback,
        canary change, registration or deletion. Cheap: reads only the small state files."""
        digest = hashlib.sha256()
        for n in self.names():
            file = self.root / n / STATE_NAME
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                data = b""
            digest.update(n.encode() + b"\0" + data + b"\0")
        return digest.hexdigest()[:16]

    def choose(self, name: str, rng: _Random) -> AdapterVersion:
        """The version to serve one request: the canary with its configured probability
        (drawn from ``rng.random()``), else the promoted one. ``RegistryError`` if none."""
        state = self._read_state(self._known(name))
        canary = state.get("canary")
        if canary and rng.random() < canary["fraction"]:
            return self._version(name, canary["version"], state)
        return self.get(name)

    # ---- writing -------------------------------------------------------------------

    def register(
        self, name: str, adapter_dir: str | Path, manifest: dict[str, Any] | None = None,
        *, promote: bool = False, move: bool = False,
    ) -> AdapterVersion:
        """Copy (or, with ``move``, rename) a finished adapter in as the next version.

        ``manifest`` defaults to the adapter's own ``manifest.json``; it must name
        ``base_model_id`` and ``base_weights_hash``. Nothing is visible until the copy is
        complete. Raises ``RegistryError`` for a bad name, a directory missing the peft
        files, or a manifest missing the base model keys.
        """
        check_name(name)
        source = Path(adapter_dir)
        missing = [f for f in REQUIRED_FILES if not (source / f).is_file()]
        if missing:
            raise RegistryError(f"{source} is not a finished adapter: missing {', '.join(missing)}")
        if manifest is None:
            if not (source / MANIFEST_NAME).is_file():
                raise RegistryError(f"{source} has no {MANIFEST_NAME} and none was given")
            manifest = json.loads((source / MANIFEST_NAME).read_text())
        absent = [k for k in REQUIRED_MANIFEST_KEYS if not manifest.get(k)]
        if absent:
            raise RegistryError(f"adapter manifest lacks {', '.join(absent)}")
        store = self._store(name)
        store.clean_temps()  # what registers that died midway left
        tmp = store.new_temp()
        try:
            staged = tmp / "adapter"
            try:
                if not move:
                    raise OSError("copy asked for")
                source.rename(staged)  # same filesystem: instant
            except OSError:
                shutil.copytree(source, staged)
            (staged / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
            with self._locked(name):
                state = self._read_state(name)
                version = store.next_number(floor=state["last_version"])  # never reused
                store.publish(staged, version)
                state["last_version"] = version
                if promote:
                    _promote(state, version)
                self._write_state(name, state)
        finally:
            store.discard(tmp)
        logger.info("registered adapter %s v%d%s", name, version, " (promoted)" if promote else "")
        return self.get(name, version)

    def promote(self, name: str, version: int) -> AdapterVersion:
        """Make ``version`` the one served; the previous one is remembered for ``rollback``.
        A canary on that same version is cleared. ``RegistryError`` if unknown."""
        with self._locked(self._known(name)):
            self._check_version(name, version)
            state = self._read_state(name)
            _promote(state, version)
            self._write_state(name, state)
        logger.info("promoted adapter %s v%d", name, version)
        return self.get(name, version)

    def rollback(self, name: str) -> AdapterVersion:
        """Promote again the version promoted before the current one.

        Raises ``RegistryError`` when there is no earlier promotion to go back to.
        """
        with self._locked(self._known(name)):
            state = self._read_state(name)
            history = state["history"]
            if len(history) < 2:
                raise RegistryError(f"adapter {name!r}: no earlier promoted version to go back to")
            history.pop()
            state["promoted"] = history[-1]
            if state.get("canary") and state["canary"]["version"] == state["promoted"]:
                state["canary"] = None
            self._write_state(name, state)
            version = state["promoted"]
        logger.info("rolled adapter %s back to v%d", name, version)
        return self.get(name, version)

    def delete(self, name: str, version: int, *, force: bool = False) -> AdapterVersion:
        """Remove one version. Refuses the promoted version (or the canary) unless
        ``force``; a forced delete of the promoted one leaves nothing promoted."""
        with self._locked(self._known(name)):
            self._check_version(name, version)
            state = self._read_state(name)
            gone = self._version(name, version, state)
            canary = state.get("canary")
            if not force and (gone.promoted or (canary and canary["version"] == version)):
                role = "promoted" if gone.promoted else "canary"
                raise RegistryError(
                    f"adapter {name} v{version} is the {role} version; promote another, "
                    "or force the delete"
                )
            state["history"] = [v for v in state["history"] if v != version]
            if state["promoted"] == version:
                state["promoted"] = None
            if canary and canary["version"] == version:
                state["canary"] = None
            self._store(name).remove(version)  # vanishes in one rename
            self._write_state(name, state)
        logger.info("deleted adapter %s v%d", name, version)
        return gone

    def set_canary(self, name: str, version: int, fraction: float) -> AdapterVersion:
        """Serve ``version`` to ``fraction`` (0 < f < 1) of requests, the promoted one to
        the rest. Needs a promoted version other than ``version``; ``RegistryError`` else."""
        if not isinstance(fraction, (int, float)) or not 0.0 < float(fraction) < 1.0:
            raise RegistryError(f"canary fraction must be in (0, 1); got {fraction!r}")
        with self._locked(self._known(name)):
            self._check_version(name, version)
            state = self._read_state(name)
            if state["promoted"] is None:
                raise RegistryError(f"adapter {name!r}: promote a version before adding a canary")
            if state["promoted"] == version:
                raise RegistryError(f"adapter {name} v{version} is already the promoted version")
            state["canary"] = {"version": version, "fraction": float(fraction)}
            self._write_state(name, state)
        return self.get(name, version)

    def clear_canary(self, name: str) -> None:
        """Stop the canary of ``name`` (a no-op when there is none)."""
        with self._locked(self._known(name)):
            state = self._read_state(name)
            state["canary"] = None
            self._write_state(name, state)

    # ---- internals -----------------------------------------------------------------

    def _known(self, name: str) -> str:
        check_name(name)
        if not self._versions(name):
            known = ", ".join(self.names()) or "none registered"
            raise RegistryError(f"unknown adapter {name!r} in {self.root}; known: {known}")
        return name

    def _store(self, name: str) -> VersionStore:
        return VersionStore(self.root / name, VERSION_FORMAT, INCOMING_PREFIX)

    def _versions(self, name: str) -> list[int]:
        return self._store(name).numbers()

    def _check_version(self, name: str, version: int) -> None:
        versions = self._versions(name)
        if not isinstance(version, int) or version not in versions:
            raise RegistryError(f"adapter {name!r} has no version {version!r}; it has {versions}")

    def _version(self, name: str, version: int, state: dict[str, Any]) -> AdapterVersion:
        path = self._store(name).path(version)
        manifest_file = path / MANIFEST_NAME
        manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
        canary = state.get("canary")
        fraction = canary["fraction"] if canary and canary["version"] == version else 0.0
        return AdapterVersion(name, version, path, state["promoted"] == version, fraction, manifest)

    def _read_state(self, name: str) -> dict[str, Any]:
        file = self.root / name / STATE_NAME
        state: dict[str, Any] = {"promoted": None, "history": [], "canary": None, "last_version": 0}
        if file.is_file():
            try:
                state.update(json.loads(file.read_text()))
            except json.JSONDecodeError as exc:
                raise RegistryError(f"{file} is corrupt: {exc}") from exc
        return state

    def _write_state(self, name: str, state: dict[str, Any]) -> None:
        state["serial"] = state.get("serial", 0) + 1  # changes the token even on a no-op write
        write_atomic(self.root / name / STATE_NAME, json.dumps(state, indent=2) + "\n")

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        lock = self._store(name).lock(_LOCK_TIMEOUT_S)  # NAME/.lock
        try:
            lock.acquire()
        except StoreLockedError as exc:
            raise RegistryError(f"adapter {name!r}: registry is locked by another writer") from exc
        try:
            yield
        finally:
            lock.release()


def _promote(state: dict[str, Any], version: int) -> None:
    if state["promoted"] != version:
        state["history"] = [v for v in state["history"] if v != version] + [version]
        state["promoted"] = version
    if state.get("canary") and state["canary"]["version"] == version:
        state["canary"] = None


def render_versions(
    versions: list[AdapterVersion], as_json: bool = False,
    data_checks: Mapping[tuple[str, int], DataCheck] | None = None,
) -> str:
    """Text for ``assistant adapters list``: ``{"adapters": [...]}`` or an aligned table.

    ``data_checks`` (per ``(name, version)``, from ``provenance.check_training_data``
    against an index) adds a ``DATA`` column and a ``training_data`` key.
    """
    if as_json:
        items = []
        for v in versions:
            item = v.to_json()
            if data_checks is not None and (v.name, v.version) in data_checks:
                item["training_data"] = data_checks[(v.name, v.version)].to_json()
            items.append(item)
        return json.dumps({"adapters": items}, indent=2)
    if not versions:
        return "no adapters registered"
    rows = [("NAME", "VERSION", "STATUS", "BASE", "CREATED", "EVAL_LOSS")]
    if data_checks is not None:
        rows[0] += ("DATA",)
    for v in versions:
        status = "promoted" if v.promoted else (f"canary {v.canary_fraction:g}"
                                                if v.canary_fraction else "-")
        loss = v.manifest.get("metrics", {}).get("eval_loss")
        row = (v.name, str(v.version), status, str(v.manifest.get("base_model_id", "?")),
               str(v.manifest.get("created_at", "?")),
               f"{loss:.4f}" if isinstance(loss, (int, float)) else "-")
        if data_checks is not None:
            check = data_checks.get((v.name, v.version))
            row += (check.label() if check is not None else "-",)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def render_version(version: AdapterVersion, as_json: bool = False) -> str:
    """Text for ``assistant adapters show|promote|rollback|delete``: one version, with its
    full manifest in the JSON form."""
    if as_json:
        data = {**version.to_json(), "path": str(version.path),
                "canary_fraction": version.canary_fraction, "manifest": version.manifest}
        return json.dumps(data, indent=2)
    return render_versions([version]) + f"\npath: {version.path}"
