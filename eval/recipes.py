"""Train the adapters an eval config needs when the registry lacks them.

An eval config names adapters by registry name (``adapter = "acme-grounded"``); on a fresh
machine the registry is empty. ``[adapters.recipes.NAME]`` says how the adapter was made,
and ``train_missing`` runs exactly that, ``assistant finetune --name NAME ... --promote``,
as its own process (the same command a person would type, so the recipe is also the
documentation), before any question is answered. Each training is timed and recorded in
the run's manifest.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.refs import RefError, parse_ref
from eval.config import AdapterRecipe, EvalConfig
from eval.results import EvalError
from eval.setups import MissingAdapterError, resolve_adapter

logger = logging.getLogger(__name__)


def missing_recipes(config: EvalConfig, registry: Path) -> list[AdapterRecipe]:
    """The recipes of the setups' adapters that the registry does not hold (by name, no
    version: a pinned ``name@vN`` is never retrained), each once, in setup order."""
    base_dir = config.path.parent if config.path.is_file() else config.path
    out: dict[str, AdapterRecipe] = {}
    for setup in config.setups:
        if setup.adapter is None:
            continue
        try:
            ref = parse_ref(setup.adapter, on_disk=False)
        except RefError:
            continue  # resolve_adapters reports it
        if ref is None or ref.version is not None or ref.name not in config.recipes:
            continue
        try:
            resolve_adapter(setup.adapter, registry, base_dir)
        except MissingAdapterError:
            out.setdefault(ref.name, config.recipes[ref.name])
    return list(out.values())


def train_missing(config: EvalConfig, registry: Path, index_dir: Path,
                  build_index: Callable[[], None] | None = None,
                  run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                  ) -> dict[str, dict]:
    """Train every missing adapter that has a recipe; returns ``{name: {"command",
    "seconds"}}`` for the manifest. ``build_index`` is called once before the first
    recipe with ``index = "eval"`` (the run's own index must exist to retrieve from).
    Raises ``EvalError`` naming the recipe and its exit status when training fails."""
    trained: dict[str, dict] = {}
    built = False
    for recipe in missing_recipes(config, registry):
        if recipe.index == "eval" and not built and build_index is not None:
            build_index()
            built = True
        args = recipe.command(registry, index_dir)
        command = [sys.executable, "-m", "assistant.cli", *args]
        logger.info("adapter %s is not in %s: training it (%s)", recipe.name, registry,
                    " ".join(args))
        print(f"training missing adapter {recipe.name}: assistant {' '.join(args)}",
              file=sys.stderr)
        clock = time.perf_counter()
        done = run(command, check=False)
        seconds = time.perf_counter() - clock
        if done.returncode != 0:
            raise EvalError(f"[adapters.recipes.{recipe.name}]: training failed with exit "
                            f"status {done.returncode} after {seconds:.0f} s "
                            f"(command: assistant {' '.join(args)})")
        print(f"trained {recipe.name} in {seconds:.0f} s", file=sys.stderr)
        trained[recipe.name] = {"command": ["assistant", *args], "seconds": round(seconds, 1)}
    return trained
