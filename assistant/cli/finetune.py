"""``assistant finetune`` and ``assistant adapters``: train LoRA adapters and version them."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError

logger = logging.getLogger(__name__)

MODES = ("closed-book", "grounded", "grounded-units", "pubmedqa", "pubmedqa-closed-book",
         "retriever", "selector")
# Passages per example: grounded shows k passages; grounded-units retrieves k, as serving
# does (the eval's [retrieval] k), and shows the evidence units selected from them.
K_DEFAULTS = {"grounded": 4, "grounded-units": 5}
# Per-mode defaults of the options whose best value differs between a LoRA adapter and an
# embedder (a full fine-tune of a 22M-parameter model wants a 10x lower rate).
LORA_DEFAULTS = {"epochs": 1, "lr": 2e-4, "batch_size": 4}
RETRIEVER_DEFAULTS = {"epochs": 3, "lr": 5e-5, "batch_size": 16}


def _registry_root(args: argparse.Namespace) -> Path:
    from core.settings import get_settings

    return Path(args.registry) if args.registry else get_settings().adapters_dir


def _or(value, default):
    return default if value is None else value


def _raft_config(args: argparse.Namespace):
    from finetune import RaftConfig

    return RaftConfig(k=_or(args.k, K_DEFAULTS["grounded"]), p_gold=_or(args.p_gold, 0.8),
                      seed=args.seed,
                      quote_words=args.quote_words, quote_first=args.quote_first,
                      order=args.order)


def _units_config(args: argparse.Namespace):
    from assistant.grounded_units import UnitsConfig

    return UnitsConfig(k=_or(args.k, K_DEFAULTS["grounded-units"]),
                       p_gold=_or(args.p_gold, 0.8), seed=args.seed)


def _pubmedqa_config(args: argparse.Namespace):
    from finetune import PubMedQAConfig

    return PubMedQAConfig(distractors=args.distractors, p_gold=_or(args.p_gold, 1.0),
                          seed=args.seed)


def read_records(args: argparse.Namespace) -> list:
    """The Q&A records of ``--data`` in ``--split``; skipped lines are reported on stderr
    with their line numbers. Raises ``DatasetError`` when none is left (before any model
    is loaded)."""
    from finetune import DatasetError, read_qa

    records, problems = read_qa(Path(args.data), split=None if args.split == "all" else args.split)
    for line, reason in problems:
        print(f"{args.data}:{line}: skipped: {reason}", file=sys.stderr)
    if not records:
        split = "" if args.split == "all" else f" of split {args.split!r}"
        raise DatasetError(f"{args.data}: no Q&A record{split} to train on"
                           f"{f' ({len(problems)} lines skipped)' if problems else ''}")
    return records


def build_examples(args: argparse.Namespace, records: list | None = None):
    """Examples and a build report for ``--mode``; test-split questions never get in.
    ``records``: the Q&A records of ``--data`` already read (``read_records``)."""
    from finetune import (
        build_closed_book,
        build_grounded,
        build_pubmedqa_closed_book,
        build_pubmedqa_examples,
        load_pubmedqa,
    )

    if args.mode == "pubmedqa":
        items = load_pubmedqa(Path(args.data), split="train")
        return build_pubmedqa_examples(items, _pubmedqa_config(args))
    if args.mode == "pubmedqa-closed-book":
        return build_pubmedqa_closed_book(load_pubmedqa(Path(args.data), split="train"))
    records = read_records(args) if records is None else records
    if args.mode == "closed-book":
        return build_closed_book(records)
    if not args.index:
        raise ConfigError(f"--mode {args.mode} needs --index DIR to retrieve passages from")
    if args.mode == "grounded-units":
        from assistant.answering.build import open_index
        from assistant.answering.evidence_scoring import EmbeddingScorer
        from assistant.grounded_units import build_grounded_units

        # the serving scorer: the index's embedder (the verifier's), mixed with overlap
        searcher, embedder = open_index(Path(args.index), required=True)
        return build_grounded_units(records, searcher, EmbeddingScorer(embedder),
                                    _units_config(args))
    from index.searcher import Searcher

    searcher = Searcher(Path(args.index))
    return build_grounded(records, searcher, _raft_config(args))


def builder_settings(args: argparse.Namespace) -> dict:
    """The settings that shaped the examples of ``args.mode``, read from the same configs
    ``build_examples`` uses, as recorded in the adapter manifest (so a version says how
    its data was built)."""
    if args.mode == "pubmedqa-closed-book":
        return {"split": "train"}
    if args.mode == "pubmedqa":
        c = _pubmedqa_config(args)
        return {"split": "train", "distractors": c.distractors, "p_gold": c.p_gold,
                "seed": c.seed}
    settings = {"split": args.split}
    if args.mode == "grounded":
        c = _raft_config(args)
        settings.update(k=c.k, p_gold=c.p_gold, order=c.order, quote_first=c.quote_first,
                        quote_words=c.quote_words, seed=c.seed, index=str(args.index))
    if args.mode == "grounded-units":
        u = _units_config(args)
        settings.update(format="units", k=u.k, p_gold=u.p_gold, seed=u.seed, mode=u.mode,
                        versions="only-current", index=str(args.index))
    return settings


def cmd_finetune(args: argparse.Namespace) -> int:
    from assistant.answering.models import ModelConfig, load_base
    from finetune import (
        AdapterRegistry,
        DatasetError,
        Redactor,
        TrainConfig,
        prepare,
        train_adapter,
    )
    from finetune.callbacks import LogLinesCallback
    from finetune.registry import RegistryError, check_name
    from finetune.sources import check_split

    try:
        check_name(args.name)
    except RegistryError as exc:
        raise ConfigError(f"--name: {exc}") from exc
    if args.mode not in MODES:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {args.mode!r}")
    check_split(args.split, field="--split", extra=("all",))
    if args.threads is not None:
        set_threads(args.threads)
    if args.mode == "retriever":
        return cmd_finetune_retriever(args)
    if args.mode == "selector":
        return cmd_finetune_selector(args)
    for key, value in LORA_DEFAULTS.items():
        setattr(args, key, _or(getattr(args, key), value))
    config = TrainConfig(
        rank=args.rank, alpha=args.alpha, dropout=args.dropout,
        target_modules=tuple(args.target_modules.split(",")), lr=args.lr, epochs=args.epochs,
        max_steps=args.max_steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
        micro_batch_size=args.micro_batch_size,
        max_length=args.max_length, bf16=args.bf16,
        gradient_checkpointing=args.gradient_checkpointing, seed=args.seed,
    )
    records = None if args.mode.startswith("pubmedqa") else read_records(args)
    examples, build_report = build_examples(args, records)
    loaded = load_base(ModelConfig(base=args.model, device=args.device))
    redactor = Redactor(enabled=not args.no_redact)
    max_length = min(args.max_length, loaded.context_window)
    try:
        train, val, prep_report = prepare(
            examples, loaded.tokenizer, max_length=max_length,
            val_fraction=args.val_fraction, seed=args.seed, redactor=redactor,
            public_documents=args.keep_document_contacts,
        )
    except DatasetError as exc:
        if f"longer than max_length {max_length}" in str(exc) and args.max_length == max_length:
            # the flag, not the data, left nothing: a usage error naming it
            raise ConfigError(f"--max-length {args.max_length}: {exc}; raise it") from exc
        raise
    report = build_report.merge(prep_report)
    print(report.to_text(), file=sys.stderr)
    registry = AdapterRegistry(_registry_root(args))
    staging = registry.root / ".staging" / args.name / "adapter"
    bar = not args.quiet and sys.stderr.isatty()
    lines = [] if bar or args.quiet else [LogLinesCallback()]  # logs and CI get plain lines
    result = train_adapter(
        loaded.model, loaded.tokenizer, train, val, config, staging, resume=args.resume,
        progress=bar, callbacks=lines, base_model_id=loaded.model_id,
        base_weights_hash=loaded.weights_hash,
        data_manifest={"mode": args.mode, "source": str(args.data),
                       "builder": builder_settings(args), **report.to_json(),
                       "documents": training_documents(records, train)},
    )
    if not result.is_main_process:
        return 0
    version = registry.register(args.name, result.adapter_dir, move=True, promote=args.promote)
    summary = {"adapter": version.to_json(), "global_step": result.global_step,
               "metrics": result.metrics}
    print(json.dumps(summary, indent=2, default=str) if args.json else
          f"registered {version.name} v{version.version}"
          f"{' (promoted)' if version.promoted else ''} at {version.path}; "
          f"eval_loss={result.metrics.get('eval_loss')}")
    return 0


def cmd_finetune_retriever(args: argparse.Namespace) -> int:
    """``--mode retriever``: tune the index's embedder on (question, gold passage) pairs
    and save it as the next version under ``$ASSISTANT_HOME/embedders`` (or
    ``--registry``)."""
    from finetune import Redactor
    from finetune.retriever import RetrieverConfig, build_pairs, split_pairs, train_retriever
    from index.searcher import Searcher

    if not args.index:
        raise ConfigError("--mode retriever needs --index DIR: the gold passages and hard "
                          "negatives come from it")
    config = RetrieverConfig(
        epochs=_or(args.epochs, RETRIEVER_DEFAULTS["epochs"]),
        lr=_or(args.lr, RETRIEVER_DEFAULTS["lr"]),
        batch_size=_or(args.batch_size, RETRIEVER_DEFAULTS["batch_size"]),
        val_fraction=args.val_fraction, seed=args.seed)
    records = read_records(args)
    searcher = Searcher(Path(args.index))
    base = args.embedder or searcher.manifest.embedder.load_name()
    pairs, report = build_pairs(records, searcher, config, Redactor(enabled=not args.no_redact),
                                public_documents=args.keep_document_contacts)
    searcher.close()
    train, val = split_pairs(pairs, config.val_fraction, config.seed)
    result = _train_embedder(
        args, train_retriever, train, val, base, config, report,
        lambda row: f"held-out hit@1 {row['val_hit@1']}, MRR {row['val_mrr']}")
    if result is None:
        return 0
    before = result.manifest["metrics"]["val_before"]
    after = result.manifest["metrics"]["val_after"] or {}
    print(f"saved embedder {args.name} v{result.version} at {result.path}; held-out hit@1 "
          f"{before['hit@1']} -> {after.get('val_hit@1')}, MRR {before['mrr']} -> "
          f"{after.get('val_mrr')} ({before['n']} questions)\n"
          f"re-index with it: assistant ingest DOCS --index NEW_DIR --embedder "
          f"{result.path if args.registry else f'{args.name}@v{result.version}'}")
    return 0


def cmd_finetune_selector(args: argparse.Namespace) -> int:
    """``--mode selector``: tune the embedder that scores evidence units on (question,
    answer unit, hard negative units) rows from the passages ``--index`` retrieves, and
    save it as the next version under ``$ASSISTANT_HOME/embedders`` (or ``--registry``)
    with a ``kind: selector`` manifest."""
    from assistant.answering.build import open_index
    from assistant.answering.evidence_scoring import EmbeddingScorer
    from assistant.answering.selector import (
        SelectorConfig,
        build_selector_pairs,
        split_unit_pairs,
        train_selector,
    )
    from finetune import Redactor
    from ingest.embedding import embedder_unless_loaded

    if not args.index:
        raise ConfigError("--mode selector needs --index DIR: the passages whose units are "
                          "trained on are retrieved from it")
    defaults = SelectorConfig()
    config = SelectorConfig(
        epochs=_or(args.epochs, defaults.epochs), lr=_or(args.lr, defaults.lr),
        batch_size=_or(args.batch_size, defaults.batch_size),
        hard_negatives=_or(args.hard_negatives, defaults.hard_negatives),
        k=_or(args.k, defaults.k), val_fraction=args.val_fraction, seed=args.seed)
    records = read_records(args)
    # The passages as serving retrieves them; the hard negatives ranked by the embedder
    # to be tuned (the index's, which serving scores units with, unless --embedder).
    searcher, embedder = open_index(Path(args.index), required=True)
    try:
        base = args.embedder or searcher.manifest.embedder.load_name()
        scorer = EmbeddingScorer(embedder_unless_loaded(args.embedder, embedder))
        pairs, report = build_selector_pairs(
            records, searcher, scorer, config, Redactor(enabled=not args.no_redact),
            public_documents=args.keep_document_contacts)
    finally:
        searcher.close()
    train, val = split_unit_pairs(pairs, config.val_fraction, config.seed)
    result = _train_embedder(
        args, train_selector, train, val, base, config, report,
        lambda row: f"held-out unit hit@1 {row['val_hit@1']}, hit@3 {row['val_hit@3']}")
    if result is None:
        return 0
    before = result.manifest["metrics"]["val_before"]
    after = result.manifest["metrics"]["val_after"] or {}
    ref = result.path if args.registry else f"{args.name}@v{result.version}"
    print(f"saved unit selector {args.name} v{result.version} at {result.path}; held-out "
          f"unit hit@1 {before['hit@1']} -> {after.get('val_hit@1')}, hit@3 "
          f"{before['hit@3']} -> {after.get('val_hit@3')} ({before['n']} questions)\n"
          f"answer with it: ASSISTANT_ANSWER_UNIT_SELECTOR={ref} (or an eval setup's "
          f"selector = \"{ref}\")")
    return 0


def _train_embedder(args: argparse.Namespace, train_fn: Callable[..., Any], train: list,
                    val: list, base: str, config: Any, report: Any,
                    epoch_line: Callable[[dict], str]) -> Any:
    """What ``--mode retriever`` and ``--mode selector`` share: print the build report,
    train with ``train_fn`` (``train_retriever`` or ``train_selector``) into
    ``--registry`` (default ``$ASSISTANT_HOME/embedders``), saying each epoch's loss and
    ``epoch_line(row)``. Returns the result, or None once ``--json`` printed it."""
    from core.settings import get_settings

    report.train, report.val = len(train), len(val)
    print(report.to_text(), file=sys.stderr)
    registry = Path(args.registry) if args.registry else get_settings().embedders_dir

    def say(row: dict) -> None:
        if not args.quiet:
            print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, "
                  f"{epoch_line(row)}", file=sys.stderr)

    result = train_fn(
        train, val, base, registry, args.name, config, device=args.device,
        data={"source": str(args.data), "split": args.split, "index": str(args.index),
              **report.to_json()},
        progress=not args.quiet and sys.stderr.isatty(), on_epoch=say)
    if args.json:
        print(json.dumps({"path": str(result.path), **result.manifest}, indent=2, default=str))
        return None
    return result


def cmd_embedders(args: argparse.Namespace) -> int:
    """``assistant embedders list [NAME]``: the tuned embedders and how each was made."""
    from core.settings import get_settings
    from finetune.retriever import list_versions

    root = Path(args.registry) if args.registry else get_settings().embedders_dir
    versions = list_versions(root, args.name)
    if args.json:
        print(json.dumps({"embedders": versions}, indent=2, default=str))
        return 0
    if not versions:
        print(f"no tuned embedders under {root}")
        return 0
    for v in versions:
        metrics = v.get("metrics", {})
        before, after = metrics.get("val_before") or {}, metrics.get("val_after") or {}
        if v.get("kind") == "selector":
            print(f"{v.get('name')}@v{v.get('version')}  unit selector  "
                  f"{v.get('created_at', '?')}  base "
                  f"{v.get('base_embedder', {}).get('model_id', '?')}  "
                  f"{v.get('data', {}).get('train_pairs', '?')} pairs  held-out unit hit@1 "
                  f"{before.get('hit@1')} -> {after.get('val_hit@1')}  {v['path']}")
            continue
        print(f"{v.get('name')}@v{v.get('version')}  {v.get('created_at', '?')}  base "
              f"{v.get('base_embedder', {}).get('model_id', '?')}  "
              f"{v.get('data', {}).get('train_pairs', '?')} pairs  held-out MRR "
              f"{before.get('mrr')} -> {after.get('val_mrr')}  {v['path']}")
    return 0


def cmd_adapters(args: argparse.Namespace) -> int:
    from assistant.cli.usage import check_adapter
    from finetune import AdapterRegistry, render_version, render_versions

    action = args.adapters_command
    if action == "canary" and not 0.0 <= args.fraction < 1.0:
        raise ConfigError(f"--fraction must be 0 (stop the canary) or a share of traffic "
                          f"above 0 and below 1, got {args.fraction:g}")
    registry = AdapterRegistry(_registry_root(args))
    if action != "list":  # an unknown name or version is a usage error (exit 2)
        check_adapter(registry.root, args.name, getattr(args, "version", None))
    if action == "list":
        versions = registry.list(args.name)
        checks = _data_checks(versions, Path(args.index)) if args.index else None
        print(render_versions(versions, as_json=args.json, data_checks=checks))
        return 0
    if action == "show":
        version = registry.get(args.name, args.version)
    elif action == "promote":
        version = registry.promote(args.name, args.version)
    elif action == "rollback":
        version = registry.rollback(args.name)
    elif action == "canary":
        if args.fraction == 0:
            registry.clear_canary(args.name)
            version = registry.get(args.name)
        else:
            version = registry.set_canary(args.name, args.version, args.fraction)
    else:  # delete
        version = registry.delete(args.name, args.version, force=args.force)
    print(render_version(version, as_json=args.json))
    return 0


def set_threads(threads: int) -> None:
    """Train on ``threads`` CPU threads (``torch.set_num_threads``); ``ConfigError`` for
    fewer than one."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"--threads must be a whole number >= 1, got {threads!r}")
    import torch

    torch.set_num_threads(threads)


def _data_checks(versions: list, index: Path) -> dict:
    """Each version's training documents checked against the index at ``index``."""
    from finetune.provenance import check_training_data
    from index.searcher import Searcher

    searcher = Searcher(index)
    try:
        documents = searcher.documents()
    finally:
        searcher.close()
    return {(v.name, v.version): check_training_data(v.manifest, documents) for v in versions}


def training_documents(records: list | None, examples: list) -> list[str] | None:
    """The gold source files of the Q&A ``records`` the ``examples`` were built from (what
    the manifest records as ``data.documents``); None without records (PubMedQA, not from
    an index)."""
    if records is None:
        return None
    from finetune.provenance import record_documents

    used = {str(e.meta.get("record_id", e.id)) for e in examples}
    return record_documents(records, used)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``finetune``, ``embedders`` and ``adapters`` on the main parser's
    subcommands."""
    p = sub.add_parser("finetune", help="train a LoRA adapter and register it, or tune the "
                                        "embedder (--mode retriever) or the evidence-unit "
                                        "selector (--mode selector)")
    p.add_argument("--data", required=True,
                   help="Q&A file (JSONL/CSV: question, answer, sources) or PubMedQA dir")
    p.add_argument("--mode", required=True, choices=MODES)
    p.add_argument("--name", required=True, help="adapter name in the registry")
    p.add_argument("--index", help="index to retrieve passages from (grounded mode)")
    p.add_argument("--split", default="train",
                   help="use only records of this split (default: train; 'all' for every one)")
    p.add_argument("--registry", help="registry dir (default: $ASSISTANT_HOME/adapters; "
                                      "$ASSISTANT_HOME/embedders in retriever and selector "
                                      "modes)")
    p.add_argument("--model", default="SmolLM2-135M-Instruct", help="base model")
    p.add_argument("--embedder", default=None,
                   help="retriever and selector modes: embedder to tune (default: the one "
                        "--index was built with)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for training (default: torch's, one per core). On a "
                        "machine other jobs share, use the cores that are free: two threads "
                        "on two busy cores ran a step 20 times slower than one")
    p.add_argument("--k", type=int, default=None,
                   help="passages per grounded example (default 4); grounded-units and "
                        "selector: passages retrieved to select units from, as serving "
                        "retrieves (default 5)")
    p.add_argument("--p-gold", type=float, default=None,
                   help="fraction of examples with the gold passage (grounded: 0.8, pubmedqa: 1)"
                        " or gold unit (grounded-units: 0.8)")
    p.add_argument("--quote-words", type=int, default=40,
                   help="grounded mode: longest quote of the gold sentence, in words")
    p.add_argument("--quote-first", action="store_true",
                   help="grounded mode: targets quote the evidence before answering")
    p.add_argument("--order", choices=["retrieval", "shuffle"], default="retrieval",
                   help="where a grounded example's gold passage sits: at its retrieval rank, "
                        "as when answering (default: cites the gold section far more often, "
                        "eval/reports/acme-retrieval-order), or at a random position (the "
                        "RAFT paper)")
    p.add_argument("--distractors", type=int, default=3,
                   help="pubmedqa mode: contexts of other questions added as distractors")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--target-modules", default="q_proj,k_proj,v_proj,o_proj")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 2e-4; retriever mode 5e-5; selector mode "
                        "2e-5)")
    p.add_argument("--epochs", type=int, default=None,
                   help="default 1; retriever mode 3; selector mode 1")
    p.add_argument("--hard-negatives", type=int, default=None,
                   help="selector mode: other units of the same passages per row, the ones "
                        "the untuned scorer ranks highest (default 3)")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None,
                   help="examples per step (default 4; retriever mode 16 pairs; selector "
                        "mode 16 rows)")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--micro-batch-size", type=int, default=None,
                   help="examples per forward pass (a divisor of --batch-size; default 1 on "
                        "CPU, where padded batches cost memory for no speed, else the batch)")
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--promote", action="store_true", help="promote the new version")
    p.add_argument("--no-redact", action="store_true",
                   help="train on unredacted text (PII redaction is on by default)")
    p.add_argument("--keep-document-contacts", action="store_true",
                   help="do not redact contact details that appear in the indexed documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("embedders", help="list the embedders tuned by --mode retriever and the "
                                         "unit selectors tuned by --mode selector")
    esub = p.add_subparsers(dest="embedders_command", required=True)
    q = esub.add_parser("list")
    q.add_argument("name", nargs="?", default=None)
    q.add_argument("--registry", help="default: $ASSISTANT_HOME/embedders")
    q.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_embedders)

    p = sub.add_parser("adapters", help="list, show, promote, roll back, canary, delete")
    asub = p.add_subparsers(dest="adapters_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", help="registry dir (default: $ASSISTANT_HOME/adapters)")
    common.add_argument("--json", action="store_true")
    q = asub.add_parser("list", parents=[common])
    q.add_argument("name", nargs="?", default=None)
    q.add_argument("--index", help="check each version's training documents against this "
                                   "index: ok, superseded (a newer version is in force) or "
                                   "deleted (no longer indexed)")
    for action in ("show", "promote", "delete", "canary"):
        q = asub.add_parser(action, parents=[common])
        q.add_argument("name")
        q.add_argument("version", type=int, nargs="?" if action == "show" else None)
        if action == "delete":
            q.add_argument("--force", action="store_true")
        if action == "canary":
            q.add_argument("--fraction", type=float, required=True,
                           help="share of traffic for this version; 0 stops the canary")
    q = asub.add_parser("rollback", parents=[common])
    q.add_argument("name")
    p.set_defaults(func=cmd_adapters)
