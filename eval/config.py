"""The eval run's config file (TOML): what to compare, on which questions, with what model.

``load_config(path)`` reads and validates it; every table and key is checked, and an
unknown key is an ``EvalConfigError`` naming the key and its table. Relative paths are
taken from the config file's directory. Tables (all optional except ``[questions]`` and
at least one ``[setups.NAME]``)::

    [run]        name, seed, limit, batch_size, max_new_tokens, skip_missing,
                 bootstrap_resamples, permutation_resamples
    [model]      base, device, dtype
    [corpus]     kind (docs|index|contexts|beir|gold), docs, index, beir, embedder
    [questions]  format (qa|pubmedqa|scifact), path, split, corpus_sentences,
                 form (asked|standalone: follow-ups after their conversation, as
                       written, or each question alone in its standalone form)
    [retrieval]  k, mode, reranker            (defaults for the retrieval setups)
    [answer]     min_retrieval_score, min_supported_fraction, min_support, temperature,
                 verifier_embedder            (default: the corpus embedder),
                 corpus_names                 (names the whole corpus is about, e.g.
                                               ["PostgreSQL", "Postgres"]; default none)
    [adapters]   registry                     (default: $ASSISTANT_HOME/adapters)
    [adapters.recipes.NAME]  mode, data, split, index, args
                 how to train adapter NAME when the registry lacks it: ``eval run``
                 runs ``assistant finetune --name NAME --mode MODE --data DATA
                 [--split SPLIT] [--index INDEX] --promote ARGS...`` first and records
                 how long it took; ``index = "eval"`` is this run's own index
    [setups.NAME] retrieval, adapter, k, mode, reranker, base, description,
                 evidence_first (default true: answer from evidence units; false: the
                 model over whole passages, the path before evidence-first answering),
                 extract_first (default true: an extracted sentence answers before the
                 model is asked; false: the model answers first and extraction is the
                 fallback when its reply fails the checks),
                 generate (default true; false: extract or decline, the model is never
                 asked; needs evidence_first),
                 selector (a unit selector tuned by ``assistant finetune --mode
                 selector``: ``name@vN``, ``name`` (its newest version) or a directory;
                 default: the units are scored with the verifier's embedder),
                 judge (a model that judges evidence units where extraction declines,
                 ``assistant.answering.judge``: a directory, ``.gguf`` or hub id; needs
                 retrieval and evidence_first), judge_min_p (the P(yes) its pick needs,
                 default 0.5)

A setup's ``adapter`` is a registry name (its promoted version), ``name@vN`` (that
version) or a directory path (anything with a ``/``, or starting with ``.`` or ``~``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError

logger = logging.getLogger(__name__)

CORPUS_KINDS = ("docs", "index", "contexts", "beir", "gold")
QUESTION_FORMATS = ("qa", "pubmedqa", "scifact")
QUESTION_FORMS = ("asked", "standalone")
MODES = ("bm25", "dense", "hybrid")


class EvalConfigError(ConfigError):
    """The eval config is unreadable or invalid; the message names the table and key."""


@dataclass(frozen=True)
class RunConfig:
    """``limit`` 0 = every question; ``batch_size`` questions generated together."""

    name: str = "eval"
    seed: int = 0
    limit: int = 0
    batch_size: int = 4
    max_new_tokens: int = 96
    skip_missing: bool = False
    bootstrap_resamples: int = 1000
    permutation_resamples: int = 10_000


@dataclass(frozen=True)
class ModelSection:
    base: str = "SmolLM2-135M-Instruct"
    device: str = "auto"
    dtype: str = "auto"


@dataclass(frozen=True)
class CorpusConfig:
    """``docs``: ingest ``docs`` (incrementally) into ``index``; ``index``: an existing
    index; ``contexts``: index the question set's own contexts (PubMedQA); ``beir``: index
    the BEIR corpus at ``beir`` (SciFact); ``gold``: no index, each question gets its gold
    contexts as passages (an oracle). ``index`` None: ``<out>/index``."""

    kind: str = "docs"
    docs: Path | None = None
    index: Path | None = None
    beir: Path | None = None
    embedder: str = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class QuestionsConfig:
    format: str = "qa"
    path: Path = Path("qa.jsonl")
    split: str | None = "test"
    corpus_sentences: Path | None = None
    # "asked": a follow-up is asked as written, after its conversation's earlier turns;
    # "standalone": each question is asked alone, in its ``standalone`` form where it has
    # one (what the conversation costs is the difference).
    form: str = "asked"


@dataclass(frozen=True)
class RetrievalDefaults:
    k: int = 5
    mode: str = "hybrid"
    reranker: Path | None = None


@dataclass(frozen=True)
class AnswerSection:
    min_retrieval_score: float = 0.28
    min_supported_fraction: float = 0.5
    min_support: float = 0.5
    temperature: float = 0.0
    # The embedder the citation check scores support with; None: [corpus] embedder. Set
    # it to the bundled model when the corpus uses a tuned one, so citations are judged
    # on the scale min_support was calibrated on.
    verifier_embedder: str | None = None
    # The names the whole corpus is about (AnswerConfig.corpus_names): a question naming
    # one needs no evidence unit to repeat it.
    corpus_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdapterRecipe:
    """How to train a missing adapter: the ``assistant finetune`` options that made it.

    ``index`` is a path, ``"eval"`` (the eval run's own index, built first) or None.
    ``args`` are further command-line options, passed as they are.
    """

    name: str
    mode: str
    data: Path
    split: str = "train"
    index: Path | str | None = None
    args: tuple[str, ...] = ()

    def command(self, registry: Path, index_dir: Path | None = None) -> list[str]:
        """The ``assistant finetune`` arguments (without the program) for this recipe."""
        out = ["finetune", "--name", self.name, "--mode", self.mode, "--data", str(self.data),
               "--split", self.split, "--registry", str(registry), "--promote"]
        index = index_dir if self.index == "eval" else self.index
        if index is not None:
            out += ["--index", str(index)]
        return out + list(self.args)


RECIPE_KEYS = ("mode", "data", "split", "index", "args")


@dataclass(frozen=True)
class SetupConfig:
    """One compared setup: retrieval on/off, an adapter spec (None: the base model)."""

    name: str
    retrieval: bool = False
    adapter: str | None = None
    k: int = 5
    mode: str = "hybrid"
    reranker: Path | None = None
    base: str | None = None
    description: str = ""
    evidence_first: bool = True  # answer from evidence units (false: the model over passages)
    extract_first: bool = True  # evidence-first: extract before generating (false: generate first)
    generate: bool = True  # evidence-first: false never asks the model (extract or decline)
    selector: str | None = None  # a tuned unit selector (None: the verifier's embedder)
    judge: str | None = None  # a model judging units where extraction declines (None: none)
    judge_min_p: float = 0.5  # the P(yes) the judge's pick needs

    @property
    def role(self) -> str:
        """``base``, ``rag``, ``finetune`` or ``combined``: which of the four kinds it is."""
        if self.retrieval:
            return "combined" if self.adapter else "rag"
        return "finetune" if self.adapter else "base"


@dataclass(frozen=True)
class EvalConfig:
    """A validated config. ``raw`` is the parsed TOML, ``hash`` its canonical SHA-256."""

    path: Path
    run: RunConfig
    model: ModelSection
    corpus: CorpusConfig
    questions: QuestionsConfig
    retrieval: RetrievalDefaults
    answer: AnswerSection
    registry: Path | None
    setups: tuple[SetupConfig, ...]
    raw: dict = field(default_factory=dict, repr=False)
    recipes: dict[str, AdapterRecipe] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return config_hash(self.raw)


def config_hash(raw: dict) -> str:
    """SHA-256 (16 hex) of the config's content, independent of comments and key order."""
    text = json.dumps(raw, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_TABLES = {
    "run": RunConfig, "model": ModelSection, "corpus": CorpusConfig,
    "questions": QuestionsConfig, "retrieval": RetrievalDefaults, "answer": AnswerSection,
}
_SETUP_KEYS = ("retrieval", "adapter", "k", "mode", "reranker", "base", "description",
               "evidence_first", "extract_first", "generate", "selector", "judge",
               "judge_min_p")


def load_config(path: Path | str) -> EvalConfig:
    """Read and validate the TOML config at ``path``. Raises ``EvalConfigError`` for a
    missing file, bad TOML, an unknown table or key, or a value of the wrong type/range."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EvalConfigError(f"eval config {path}: no such file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EvalConfigError(f"eval config {path}: not valid TOML ({exc})") from exc
    return parse_config(raw, path.resolve().parent, path)


def parse_config(raw: dict, base_dir: Path, path: Path | None = None) -> EvalConfig:
    """Validate an already parsed config; relative paths are resolved against ``base_dir``."""
    known = {*_TABLES, "adapters", "setups"}
    for key in raw:
        if key not in known:
            raise EvalConfigError(f"unknown table or key {key!r} at the top level; "
                                  f"allowed: {', '.join(sorted(known))}")
    if "path" not in _table(raw, "questions"):
        raise EvalConfigError("[questions] path is required: the question file or folder")
    sections = {name: _section(raw, name, cls, base_dir) for name, cls in _TABLES.items()}
    run, corpus, questions = sections["run"], sections["corpus"], sections["questions"]
    retrieval, answer = sections["retrieval"], sections["answer"]
    _validate(run, corpus, questions, retrieval, answer)
    adapters = _table(raw, "adapters")
    _check_keys(adapters, ("registry", "recipes"), "adapters")
    registry = _path(adapters["registry"], base_dir, "adapters", "registry") \
        if adapters.get("registry") else None
    recipes = _recipes(adapters, base_dir)
    setups = _setups(raw, retrieval, base_dir)
    if corpus.kind == "docs" and corpus.docs is None and any(s.retrieval for s in setups):
        raise EvalConfigError("[corpus] kind = 'docs' needs docs = <folder to ingest>")
    if corpus.kind == "beir" and corpus.beir is None:
        raise EvalConfigError("[corpus] kind = 'beir' needs beir = <BEIR dataset folder>")
    if corpus.kind == "index" and corpus.index is None:
        raise EvalConfigError("[corpus] kind = 'index' needs index = <index folder>")
    if corpus.kind == "contexts" and questions.format == "qa":
        raise EvalConfigError("[corpus] kind = 'contexts' needs a question set with contexts "
                              "(format pubmedqa or scifact)")
    return EvalConfig(path=path or base_dir, run=run, model=sections["model"], corpus=corpus,
                      questions=questions, retrieval=retrieval, answer=answer,
                      registry=registry, setups=setups, raw=raw, recipes=recipes)


def _recipes(adapters: dict, base_dir: Path) -> dict[str, AdapterRecipe]:
    table = adapters.get("recipes", {})
    if not isinstance(table, dict):
        raise EvalConfigError("[adapters.recipes] must be a table of [adapters.recipes.NAME]")
    out = {}
    for name, body in table.items():
        where = f"adapters.recipes.{name}"
        if not isinstance(body, dict):
            raise EvalConfigError(f"[{where}] must be a table, got {type(body).__name__}")
        _check_keys(body, RECIPE_KEYS, where)
        for key in ("mode", "data"):
            if key not in body:
                raise EvalConfigError(f"[{where}] {key} is required")
        mode, split = body["mode"], body.get("split", "train")
        if not isinstance(mode, str) or not mode:
            raise EvalConfigError(f"[{where}] mode must be a finetune mode, got {mode!r}")
        if split not in ("train", "all"):
            raise EvalConfigError(f"[{where}] split must be train or all (never the "
                                  f"evaluated questions), got {split!r}")
        args = body.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise EvalConfigError(f"[{where}] args must be a list of strings")
        if any(a in ("--name", "--registry", "--data", "--mode", "--index", "--split")
               for a in args):
            raise EvalConfigError(f"[{where}] args must not repeat name, registry, data, "
                                  "mode, index or split; use the recipe's own keys")
        index = body.get("index")
        if index is not None and index != "eval":
            index = _path(index, base_dir, where, "index")
        out[name] = AdapterRecipe(name=name, mode=mode,
                                  data=_path(body["data"], base_dir, where, "data"),
                                  split=split, index=index, args=tuple(args))
    return out


def _table(raw: dict, name: str) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise EvalConfigError(f"[{name}] must be a table, got {type(value).__name__}")
    return value


def _check_keys(table: dict, allowed, name: str) -> None:
    for key in table:
        if key not in allowed:
            raise EvalConfigError(f"unknown key {key!r} in [{name}]; allowed: "
                                  f"{', '.join(allowed)}")


def _section(raw: dict, name: str, cls, base_dir: Path):
    table = _table(raw, name)
    fields = cls.__dataclass_fields__
    _check_keys(table, tuple(fields), name)
    values = {}
    for key, value in table.items():
        values[key] = _coerce(value, fields[key].type, name, key, base_dir)
    return cls(**values)


def _coerce(value: Any, kind: Any, table: str, key: str, base_dir: Path) -> Any:
    """Check ``value`` against the field's annotation (a string under ``from __future__``)."""
    kind = str(kind)
    where = f"[{table}] {key}"
    if "Path" in kind:
        if value == "" and "None" in kind:
            return None
        return _path(value, base_dir, table, key)
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise EvalConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise EvalConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if kind.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EvalConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if kind.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise EvalConfigError(f"{where} must be a list of non-empty strings, got "
                                  f"{value!r}")
        return tuple(v.strip() for v in value)
    if kind.startswith("str"):
        if value == "" and "None" in kind:
            return None
        if not isinstance(value, str):
            raise EvalConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise AssertionError(f"unhandled field type {kind}")  # a bug in this module


def _path(value: Any, base_dir: Path, table: str, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise EvalConfigError(f"[{table}] {key} must be a non-empty path, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _validate(run: RunConfig, corpus: CorpusConfig, questions: QuestionsConfig,
              retrieval: RetrievalDefaults, answer: AnswerSection) -> None:
    checks = [
        (run.limit >= 0, "[run] limit must be >= 0 (0 = all)"),
        (1 <= run.batch_size <= 256, "[run] batch_size must be in 1..256"),
        (1 <= run.max_new_tokens <= 8192, "[run] max_new_tokens must be in 1..8192"),
        (run.bootstrap_resamples >= 100, "[run] bootstrap_resamples must be >= 100"),
        (run.permutation_resamples >= 100, "[run] permutation_resamples must be >= 100"),
        (corpus.kind in CORPUS_KINDS, f"[corpus] kind must be one of {', '.join(CORPUS_KINDS)}"),
        (questions.format in QUESTION_FORMATS,
         f"[questions] format must be one of {', '.join(QUESTION_FORMATS)}"),
        (questions.form in QUESTION_FORMS,
         f"[questions] form must be one of {', '.join(QUESTION_FORMS)}"),
        (1 <= retrieval.k <= 1000, "[retrieval] k must be in 1..1000"),
        (retrieval.mode in MODES, f"[retrieval] mode must be one of {', '.join(MODES)}"),
        (-1.0 <= answer.min_retrieval_score <= 1.0, "[answer] min_retrieval_score in [-1, 1]"),
        (0.0 <= answer.min_supported_fraction <= 1.0,
         "[answer] min_supported_fraction must be in [0, 1]"),
        (0.0 <= answer.min_support <= 1.0, "[answer] min_support must be in [0, 1]"),
        (answer.temperature >= 0.0, "[answer] temperature must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise EvalConfigError(message)


def _setups(raw: dict, defaults: RetrievalDefaults, base_dir: Path) -> tuple[SetupConfig, ...]:
    table = _table(raw, "setups")
    if not table:
        raise EvalConfigError("no setups: add at least one [setups.NAME] table")
    out = []
    for name, body in table.items():
        where = f"setups.{name}"
        if not isinstance(body, dict):
            raise EvalConfigError(f"[{where}] must be a table, got {type(body).__name__}")
        if not name.replace("-", "").replace("_", "").isalnum():
            raise EvalConfigError(f"setup name {name!r}: use letters, digits, '-' or '_'")
        _check_keys(body, _SETUP_KEYS, where)
        fields = SetupConfig.__dataclass_fields__
        values = {k: _coerce(v, fields[k].type, where, k, base_dir) for k, v in body.items()}
        values.setdefault("k", defaults.k)
        values.setdefault("mode", defaults.mode)
        values.setdefault("reranker", defaults.reranker)
        setup = SetupConfig(name=name, **values)
        if not 1 <= setup.k <= 1000:
            raise EvalConfigError(f"[{where}] k must be in 1..1000, got {setup.k}")
        if setup.mode not in MODES:
            raise EvalConfigError(f"[{where}] mode must be one of {', '.join(MODES)}")
        if setup.adapter is not None and not setup.adapter.strip():
            raise EvalConfigError(f"[{where}] adapter must be a name, name@vN or a path")
        if setup.selector is not None and not setup.selector.strip():
            raise EvalConfigError(f"[{where}] selector must be a name, name@vN or a path")
        if not setup.generate and not (setup.evidence_first and setup.retrieval):
            raise EvalConfigError(f"[{where}] generate = false answers only by extracting "
                                  "from evidence units: it needs retrieval = true and "
                                  "evidence_first = true")
        if setup.judge is not None and not (setup.judge.strip() and setup.retrieval
                                            and setup.evidence_first):
            raise EvalConfigError(f"[{where}] judge picks among evidence units where "
                                  "extraction declines: it needs a model name or path, "
                                  "retrieval = true and evidence_first = true")
        if not 0.0 <= setup.judge_min_p <= 1.0:
            raise EvalConfigError(f"[{where}] judge_min_p must be in [0, 1], got "
                                  f"{setup.judge_min_p}")
        if setup.selector is not None and not setup.retrieval:
            raise EvalConfigError(f"[{where}] selector scores evidence units of retrieved "
                                  "passages: it needs retrieval = true")
        out.append(setup)
    return tuple(out)
