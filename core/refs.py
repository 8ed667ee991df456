"""``name@vN`` references to versioned artifacts, and the rule that tells them from paths.

A *reference* names something a registry holds: ``support`` (whatever that registry
serves for the name, e.g. the promoted adapter version) or ``support@v3`` (exactly
version 3). Adapters (``finetune.registry``) and tuned embedders
(``$ASSISTANT_HOME/embedders``) are named this way. A name is 1-64 letters, digits,
``.``, ``_`` or ``-``, starting with a letter or digit (the registries' own rule).

The one rule for "path or reference" (``is_path``): a string is a path when it

1. contains a path separator (``/``, or the platform's own, e.g. ``\\`` on Windows), or
2. starts with ``.`` or ``~``, or
3. exists on disk, relative to the working directory (``on_disk=True``, the default).

Part 3 is for names a person types on this machine (``--adapter``, an embedder setting),
where ``support-lora`` may be a folder beside them. Callers whose strings are not local
paths skip it: the server's request names, and eval config specs, which resolve relative
paths against the config file's folder rather than the working directory.

Resolving a reference (which directory, which version is promoted) stays with the
registries and their callers; nothing here touches the disk except rule 3.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION_TAG = re.compile(r"v(\d+)")


class RefError(ConfigError):
    """A string is neither a path nor a well-formed ``name`` / ``name@vN`` reference."""


@dataclass(frozen=True)
class Ref:
    """A reference: ``name`` and an exact ``version``, or None for "the registry's pick".

    Raises ``RefError`` for a name outside ``NAME_PATTERN`` or a negative version.
    """

    name: str
    version: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise RefError(f"{self.name!r} is not a valid name: use 1-64 letters, digits, "
                           "'.', '_' or '-', starting with a letter or digit")
        if self.version is not None and (
                isinstance(self.version, bool) or not isinstance(self.version, int)
                or self.version < 0):
            raise RefError(f"version of {self.name!r} must be an integer >= 0, "
                           f"got {self.version!r}")

    def __str__(self) -> str:
        return format_ref(self.name, self.version)


def looks_like_path(text: str) -> bool:
    """Rules 1 and 2 of the module docs: a separator in ``text``, or a leading ``.``/``~``."""
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(sep in text for sep in separators) or text.startswith((".", "~"))


def is_path(text: str, *, on_disk: bool = True) -> bool:
    """Whether ``text`` names a path rather than a reference (the module docs' rule);
    ``on_disk=False`` leaves out rule 3, the existence check."""
    return looks_like_path(text) or (on_disk and Path(text).exists())


def parse_ref(text: str, *, on_disk: bool = True) -> Ref | None:
    """``"name"`` -> ``Ref(name)``, ``"name@vN"`` -> ``Ref(name, N)``; None when ``text``
    is a path (``is_path(text, on_disk=on_disk)``).

    Raises ``RefError`` for anything else: an empty string, a tag after ``@`` that is not
    ``vN``, or a name outside ``NAME_PATTERN``.
    """
    if not text:
        raise RefError("empty reference: write NAME or NAME@vN")
    if is_path(text, on_disk=on_disk):
        return None
    name, at, tag = text.rpartition("@")
    if not at:
        return Ref(text)
    version = _VERSION_TAG.fullmatch(tag)
    if version is None or not name:
        example = name or "name"
        raise RefError(f"{text!r} is not a reference: write NAME or NAME@vN, "
                       f"e.g. {example}@v1")
    return Ref(name, int(version.group(1)))


def format_ref(name: str, version: int | None = None) -> str:
    """``name@vN``, or ``name`` without a version; ``parse_ref`` reads it back (and
    ``str(Ref)`` is this). The name is not checked: labels are made from names a
    registry already accepted."""
    return name if version is None else f"{name}@v{version}"
