"""What ``assistant serve`` checks before it listens: the settings that name things to load.

``check_settings(settings)`` runs in a second or two, loads no weights and downloads
nothing; it finds what the background load (``services.build_services``) will need, so a
server whose model, device, adapter, verifier embedder or unit selector cannot be had
never starts (``ConfigError`` naming the setting and what is wrong; ``assistant serve``
exits 2). What it cannot tell without loading (weights that do not load, an adapter
trained on another base) still fails in the background, and ``/healthz`` then says 503.

- device (``--device``, ``ASSISTANT_SERVER_DEVICE``): a known value, and the GPU there;
- base model (``--model``, ``ASSISTANT_SERVER_MODEL``): the bundled package installed, an
  experimental model's parts installed (or assembled), a model directory with a
  ``config.json``, an existing ``.gguf`` file, or a hub id in the local hub cache (or,
  where the hub may be reached, one it knows: a metadata request, no download);
- adapters (``ASSISTANT_SERVER_ADAPTERS``): each path a directory with an adapter config;
- registry (``--registry``, ``ASSISTANT_SERVER_REGISTRY``): not a file (it may not exist
  yet: one created later is picked up);
- verifier embedder (``ASSISTANT_SERVER_VERIFIER_EMBEDDER``): bundled, a tuned version, a
  directory, or a hub id found as the model's is;
- unit selector (``ASSISTANT_ANSWER_UNIT_SELECTOR``): a tuned selector there.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import AssistantError, ConfigError
from core.settings import Settings

DEVICE = "--device / ASSISTANT_SERVER_DEVICE"
MODEL = "--model / ASSISTANT_SERVER_MODEL"
ADAPTERS = "ASSISTANT_SERVER_ADAPTERS"
REGISTRY = "--registry / ASSISTANT_SERVER_REGISTRY"
VERIFIER = "ASSISTANT_SERVER_VERIFIER_EMBEDDER"
SELECTOR = "ASSISTANT_ANSWER_UNIT_SELECTOR"
HUB_TIMEOUT_S = 10.0


def check_settings(settings: Settings) -> None:
    """Raise ``ConfigError`` ("cannot serve: SETTING VALUE: what is wrong") for the first
    setting whose model, device, adapter, registry, embedder or selector cannot be had."""
    _check_device(settings.server_device)
    _check_model(settings.server_model, settings)
    for name, path in settings.server_adapters.items():
        _check_adapter(name, Path(path))
    registry = settings.server_registry.expanduser() if settings.server_registry else None
    if registry is not None and registry.exists() and not registry.is_dir():
        raise _problem(REGISTRY, str(registry), "a file, not an adapter registry directory")
    if settings.server_verifier_embedder:
        _check_embedder(settings.server_verifier_embedder)
    if settings.answer_unit_selector:
        from assistant.answering.selector import resolve_selector

        try:
            resolve_selector(settings.answer_unit_selector, settings.embedders_dir)
        except ConfigError as exc:
            raise _problem(SELECTOR, settings.answer_unit_selector, str(exc)) from exc


def _problem(setting: str, value: str, why: str) -> ConfigError:
    return ConfigError(f"cannot serve: {setting} {value!r}: {why}")


def _check_device(device: str) -> None:
    from core.devices import resolve_device

    try:
        resolve_device(device)
    except ConfigError as exc:
        raise _problem(DEVICE, device, str(exc)) from exc


def _check_model(base: str, settings: Settings) -> None:
    from assistant.answering import experimental
    from assistant.answering.models import BUNDLED_MODEL, bundled_gguf, classify_base

    name = classify_base(base)
    try:
        if name.kind == "bundled":
            bundled_gguf()
        elif name.kind == "experimental":
            spec = experimental.MODELS[base]
            assembled = settings.models_dir / spec.filename
            if not (assembled.is_file() and assembled.stat().st_size == spec.size):
                experimental.find_parts(spec)  # verified when assembled, at load
    except AssistantError as exc:
        raise _problem(MODEL, base, str(exc)) from exc
    if name.kind == "missing":
        raise _problem(MODEL, base, str(name.why))
    if name.kind == "hub":
        why = _hub_problem(base, ("config.json",))
        if why is not None:
            raise _problem(MODEL, base, f"not the bundled model ({BUNDLED_MODEL}), a model "
                                        f"directory or a .gguf file, and {why}")


def _check_adapter(name: str, path: Path) -> None:
    from assistant.answering.adapters import adapter_dir_problem

    value = f"{name}={path}"
    if not name.strip():
        raise _problem(ADAPTERS, value, "an adapter needs a name")
    if why := adapter_dir_problem(path):
        raise _problem(ADAPTERS, value, why)


def _check_embedder(model: str) -> None:
    from ingest.embedding import resolve_model_path

    try:
        path = resolve_model_path(model)
    except ConfigError as exc:
        raise _problem(VERIFIER, model, str(exc)) from exc
    where = Path(path).expanduser()
    if where.is_dir():
        return
    if where.exists() or path.startswith((".", "~", "/")) or Path(path).is_absolute():
        raise _problem(VERIFIER, model, f"no embedder directory at {where}")
    why = _hub_problem(path, ("modules.json", "config.json"))
    if why is not None:
        raise _problem(VERIFIER, model, "not a bundled embedder (all-MiniLM-L6-v2), a tuned "
                                        f"one (NAME@vN) or a directory, and {why}")


def _hub_problem(repo_id: str, files: tuple[str, ...]) -> str | None:
    """None when ``repo_id`` is a hub model in the local hub cache or, with the hub not
    offline, one the hub knows (a metadata request; nothing is downloaded); else why not."""
    import huggingface_hub

    from assistant.answering.models import is_hub_id

    if not is_hub_id(repo_id):
        return "not a valid hub id either"
    for name in files:
        if isinstance(huggingface_hub.try_to_load_from_cache(repo_id, name), str):
            return None
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return "not in the local hub cache (HF_HUB_OFFLINE is set, so it cannot be fetched)"
    try:
        huggingface_hub.HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except Exception as exc:  # offline, 404, auth, network: hub errors come in many classes
        return f"not found on the model hub ({type(exc).__name__}: {exc})"
    return None
