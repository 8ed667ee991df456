"""Usage errors (exit 2) that the libraries report like any other failure.

The libraries raise ``ConfigError`` for a bad value they can name, but a path that does
not exist, an adapter that is not registered or a model that cannot be found come out of
them as plain ``AssistantError`` (a ``DatasetError``, a ``RegistryError``, a
``ModelLoadError``), the same classes as a genuine failure (a corrupt file, a locked
registry, weights that do not load). ``check_args`` checks what the user typed before a
command runs and raises ``ConfigError`` naming the flag; ``not_found`` words the
``ModelNotFoundError`` of a model it was given that is nowhere to be found.
``main`` maps both to exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import ConfigError

# (command, dest, flag): paths a command reads, which must exist.
INPUTS = (("finetune", "data", "--data"), ("feedback", "db", "--db"),
          ("eval", "beir", "--beir"))
# (command, dest, flag): files a command writes, whose folder must exist.
OUTPUTS = (("feedback", "out", "--out"),)
# Commands with a repeatable --source pattern.
SOURCES = ("search", "ask")
# Commands that answer with a local model (mcp unless --url or --no-model); serve checks
# its own settings before it listens (assistant.server.startup).
ANSWERING = ("ask", "mcp")
JUDGE_VAR = "ASSISTANT_ANSWER_UNIT_JUDGE"


def check_args(args: argparse.Namespace) -> None:
    """``ConfigError`` naming the flag for a path, pattern, adapter or model the user gave
    that cannot be right: an input that does not exist, an output whose folder does not,
    an empty ``--source``, an ``--adapter`` the registry does not hold, a unit judge model
    path (``ASSISTANT_ANSWER_UNIT_JUDGE``) that does not exist."""
    command = getattr(args, "command", None)
    for cmd, dest, flag in INPUTS:
        value = getattr(args, dest, None) if command == cmd else None
        if value and not Path(value).expanduser().exists():
            raise ConfigError(f"{flag} {value}: no such file or directory")
    for cmd, dest, flag in OUTPUTS:
        value = getattr(args, dest, None) if command == cmd else None
        if value:
            path = Path(value).expanduser()
            if path.is_dir():
                raise ConfigError(f"{flag} {value}: is a folder; give the file to write")
            if not path.parent.is_dir():
                raise ConfigError(f"{flag} {value}: the output folder {path.parent} does not "
                                  "exist; create it first")
    if command in SOURCES:
        for pattern in getattr(args, "source", None) or ():
            if not pattern.strip():
                raise ConfigError(f"--source {pattern!r}: an empty pattern; give a source path "
                                  "or glob, such as 'policies/*'")
    if command in ANSWERING and not (command == "mcp" and (args.url or args.no_model)):
        if getattr(args, "adapter", None):
            check_adapter_spec(args.adapter, getattr(args, "registry", None))
        check_judge()


def check_adapter_spec(spec: str, registry: str | None, flag: str = "--adapter") -> None:
    """``--adapter`` names an adapter directory (one with its adapter config) or an adapter
    the registry holds (``name`` with a promoted version, or ``name@vN``); ``ConfigError``
    naming it else.
    What is found is checked no further here (an adapter that does not load is a
    failure, exit 1)."""
    from core.refs import RefError, parse_ref

    try:
        ref = parse_ref(spec)
    except RefError as exc:
        raise ConfigError(f"{flag} {spec!r}: {exc}") from exc
    if ref is None:
        from assistant.answering.adapters import adapter_dir_problem

        if why := adapter_dir_problem(Path(spec)):
            raise ConfigError(f"{flag} {spec}: {why}")
        return
    check_adapter(_registry_root(registry), ref.name, ref.version,
                  need_promoted=ref.version is None, label=f"{flag} {spec}: ")


def check_adapter(root: Path, name: str, version: int | None = None, *,
                  need_promoted: bool = False, label: str = "") -> None:
    """``ConfigError`` (prefixed with ``label``) when the registry at ``root`` has no
    adapter ``name``, no ``version`` of it, or (``need_promoted``) no promoted version."""
    from finetune.registry import AdapterRegistry, RegistryError, check_name

    try:
        check_name(name)
    except RegistryError as exc:
        raise ConfigError(f"{label}{exc}") from exc
    registry = AdapterRegistry(root)
    names = registry.names()
    if name not in names:
        raise ConfigError(f"{label}unknown adapter {name!r} in {root}; known: "
                          f"{', '.join(names) or 'none registered'}")
    if version is None and not need_promoted:
        return
    versions = registry.list(name)
    numbers = [v.version for v in versions]
    if version is not None and version not in numbers:
        raise ConfigError(f"{label}adapter {name!r} has no version {version}; it has "
                          f"{', '.join(f'v{n}' for n in numbers) or 'none'}")
    if version is None and not any(v.promoted for v in versions):
        raise ConfigError(f"{label}adapter {name!r} has no promoted version; name one "
                          f"({', '.join(f'{name}@v{n}' for n in numbers)}) or promote it")


def _registry_root(registry: str | None) -> Path:
    from core.settings import get_settings

    return Path(registry) if registry else get_settings().adapters_dir


def check_judge() -> None:
    """``ConfigError`` when ``ASSISTANT_ANSWER_UNIT_JUDGE`` names a path that does not
    exist (checked before answering: the judge loads only when extraction declines)."""
    from core.settings import get_settings

    spec = get_settings().answer_unit_judge
    why = _missing_path(spec) if spec else None
    if why:
        raise ConfigError(f"{JUDGE_VAR}={spec}: {why} (the unit judge's "
                          "model: a directory, a .gguf file or a hub id)")


def _missing_path(spec: str) -> str | None:
    """Why model ``spec``, meant as a local path, names nothing usable (``no such file or
    directory``, ``not a .gguf file ...``), or None: the one rule is
    ``models.classify_base`` (a path starts with ``/``, ``.`` or ``~``, ends in
    ``.gguf``, or is no valid hub id; bundled names are not paths)."""
    from assistant.answering.models import classify_base

    name = classify_base(spec)
    return name.why if name.kind == "missing" else None


def not_found(args: argparse.Namespace, exc: BaseException) -> str | None:
    """The message for exit 2 when ``exc`` says a model given on the command line
    (``--model``) or in the environment (``ASSISTANT_ANSWER_UNIT_JUDGE``) could not be
    found, else None: a model that was found and failed to load stays a failure."""
    from assistant.answering.models import ModelNotFoundError

    if not isinstance(exc, ModelNotFoundError):
        return None
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    candidates = [("--model ", getattr(args, "model", None))]
    try:
        from core.settings import get_settings

        candidates.append((f"{JUDGE_VAR}=", get_settings().answer_unit_judge))
    except Exception:  # settings that do not validate: their own error comes elsewhere
        pass
    for label, spec in candidates:
        if not spec or spec not in str(exc):
            continue
        why = _missing_path(spec)
        if why:
            return f"{label}{spec}: {why}"
        cause = exc.__cause__
        why = (f" ({type(cause).__name__}: {str(cause).splitlines()[0]})"
               if cause is not None and str(cause) else "")
        return (f"{label}{spec}: no such model: not a bundled name, a directory or a .gguf "
                f"file, and not found as a hub id{why}")
    return first

