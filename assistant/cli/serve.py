"""``assistant ask``, ``serve``, ``feedback export`` and ``mcp``: the answering side's CLI."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.answering.answer import Answerer

logger = logging.getLogger(__name__)


def answerer_from_args(args: argparse.Namespace) -> tuple[Answerer, str | None]:
    """``(answerer, adapter)``: a ``RagAnswerer`` over ``--index`` with the base model
    (``--model`` on ``--device``) and, if ``--adapter`` names one, that adapter loaded
    (``adapter`` is the name it is served under, else None).

    Raises ``IndexNotFoundError`` before loading any model when the index is missing,
    then the model's, the registry's and the adapter's errors. When answers are only
    extracted or declined (``build.generates`` false) the model is found and its
    tokenizer loaded, its weights only if something needs them (an adapter, say).
    """
    from assistant.answering.build import (
        build_answerer,
        generates,
        load_adapter,
        load_generator,
        open_index,
        warn_unused_adapters,
    )
    from assistant.answering.models import ModelConfig
    from core.settings import get_settings

    # The index first: a missing one fails before seconds of model loading.
    searcher, embedder = open_index(Path(args.index), required=True)
    settings = get_settings()
    # Answers extracted or declined never need the weights: found now, loaded on need.
    base = load_generator(ModelConfig(base=args.model, device=args.device),
                          lazy=not generates(settings))
    registry = Path(args.registry) if args.registry else None
    adapter = load_adapter(base.adapters, args.adapter, registry) if args.adapter else None
    if adapter is not None:
        warn_unused_adapters(f"adapter {adapter} is loaded", settings)
    return build_answerer(base.generator, searcher, embedder=embedder), adapter


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.answering.answer import AnswerOptions

    answerer, adapter = answerer_from_args(args)
    options = AnswerOptions(k=args.k, mode=args.mode, adapter=adapter,
                            sources=tuple(args.source) if args.source else None,
                            max_new_tokens=args.max_new_tokens)
    answer = answerer.answer(args.question, options=options)
    if args.json:
        print(json.dumps(answer.to_json(), indent=2))
        return 0
    from core.render import related_text, where

    print(answer.answer)
    if answer.abstained:
        print(f"\n(abstained: {answer.abstain_reason})")
        related = related_text([p.to_json() for p in answer.passages])
        if related:
            print(f"\n{related}")
    for c in answer.citations:
        print(f"[{c.n}] {where(c.to_json())}\n    \u201c{c.quote}\u201d")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in answer.timings.items())
    print(f"\nmodel {answer.model}{' + ' + answer.adapter if answer.adapter else ''}; {timing}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.server.app import serve
    from core.errors import ConfigError
    from core.settings import get_settings

    if args.api_key is not None:  # a key on the command line shows in `ps` and shell history
        raise ConfigError(
            "serve no longer takes --api-key: a key on the command line is visible to every "
            "user of the machine. Create keys with `assistant keys create NAME` (the server "
            "reads the key store, --keys FILE), or give them in the environment: "
            "ASSISTANT_SERVER_API_KEYS_FILE=/run/secrets/keys (one key a line) or "
            "ASSISTANT_SERVER_API_KEYS='[\"KEY\"]'")
    update = {"server_index": Path(args.index), "server_host": args.host,
              "server_port": args.port, "server_model": args.model,
              "server_device": args.device}
    if args.registry:
        update["server_registry"] = Path(args.registry)
    if args.keys:
        update["server_keys_db"] = Path(args.keys)
    serve(get_settings().model_copy(update=update), insecure_no_auth=args.insecure_no_auth)
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from assistant.feedback import export_feedback
    from core.settings import get_settings

    db = Path(args.db) if args.db else get_settings().feedback_db
    n = export_feedback(db, Path(args.out), min_rating=args.min_rating, key_ids=args.key)
    print(f"wrote {n} training records to {args.out}")
    return 0


def mcp_backend(args: argparse.Namespace) -> Any:
    """What ``assistant mcp`` serves, built from its arguments without starting stdio: an
    ``AssistantClient`` for ``--url``, a ``Searcher`` for ``--no-model``, else the
    ``answerer_from_args`` answerer, built as ``ask``'s (its weights loaded only on need
    when answers are extracted or declined), in a ``LocalClient`` whose answers use the
    ``--adapter`` loaded when a call names none.

    Raises what ``answerer_from_args`` raises (a missing index before any model load).
    """
    if args.url:
        from assistant.integrations.client import AssistantClient

        return AssistantClient(args.url, api_key=args.api_key
                               or os.environ.get("ASSISTANT_API_KEY") or None)
    if args.no_model:
        from index.searcher import Searcher

        return Searcher(Path(args.index))
    answerer, adapter = answerer_from_args(args)
    if adapter is None:
        return answerer
    from assistant.integrations.client import LocalClient

    # --adapter: the answer tool's adapter when a call names none
    return LocalClient(searcher=getattr(answerer, "searcher", None), answerer=answerer,
                       adapter=adapter)


def cmd_mcp(args: argparse.Namespace) -> int:
    from assistant.integrations.mcp_server import run_mcp

    run_mcp(mcp_backend(args))
    return 0


def _port(text: str) -> int:
    """``--port``: an integer in 0..65535 (argparse reports anything else)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 0..65535, got {text!r}")
    return value


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``ask``, ``serve``, ``feedback`` and ``mcp`` on the main parser."""
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", default="SmolLM2-135M-Instruct",
                       help="base model: bundled name, HF directory, .gguf file or hub id")
    model.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    model.add_argument("--registry", help="adapter registry (default: $ASSISTANT_HOME/adapters)")

    p = sub.add_parser("ask", parents=[model], help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--index", required=True)
    p.add_argument("--adapter", help="adapter name (promoted version), name@vN, or directory")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid")
    p.add_argument("--source", action="append", help="only these sources (glob); repeatable")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--json", action="store_true", help="print the answer record")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", parents=[model], help="HTTP API, chat page, OpenAI endpoint")
    p.add_argument("--index", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--keys", metavar="FILE",
                   help="API key store (default: ASSISTANT_SERVER_KEYS_DB or "
                        "$ASSISTANT_HOME/keys.sqlite); see `assistant keys`")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="serve a non-loopback address without API keys (only behind a "
                        "proxy that checks access)")
    p.add_argument("--api-key", action="append", help=argparse.SUPPRESS)  # an error: see cmd_serve
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("feedback", help="user feedback collected by the server")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    q = fsub.add_parser("export", help="write feedback as fine-tuning records (JSONL)")
    q.add_argument("--out", required=True)
    q.add_argument("--db", help="feedback DB (default: $ASSISTANT_HOME/feedback.sqlite3)")
    q.add_argument("--min-rating", type=int, default=-1, choices=[-1, 1])
    q.add_argument("--key", action="append", metavar="ID",
                   help="only answers given to this API key (repeatable): training data "
                        "for an adapter that key's users get holds only what they may see")
    q.set_defaults(func=cmd_feedback_export)

    p = sub.add_parser("mcp", parents=[model], help="MCP server (stdio): search and answer tools")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--index", help="serve a local index (and model)")
    where.add_argument("--url", help="serve a running `assistant serve` over HTTP")
    p.add_argument("--api-key", help="key for --url (default: the ASSISTANT_API_KEY "
                                      "environment variable, which keeps it out of `ps`)")
    p.add_argument("--adapter", help="adapter for answers (local mode)")
    p.add_argument("--no-model", action="store_true",
                   help="local mode: the search and documents tools only, no model loaded")
    p.set_defaults(func=cmd_mcp)
