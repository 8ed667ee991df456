"""``assistant keys create|list|revoke``: the server's API keys and their scopes.

Keys live hashed in the key store (``--keys FILE``, else ``ASSISTANT_SERVER_KEYS_DB``,
else ``$ASSISTANT_HOME/keys.sqlite``), which ``assistant serve`` reads on every request:
a new or revoked key applies at once. ``create`` prints the token once; nothing can
show it again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _store(args: argparse.Namespace, read_only: bool = False):
    from assistant.server.keystore import KeyStore
    from core.settings import get_settings

    path = Path(args.keys) if args.keys else get_settings().keys_db
    return KeyStore(path, read_only=read_only)


def _listed(values: list[str] | None, flag: str) -> tuple[str, ...] | None:
    """A repeatable, comma-separated flag's values (``keystore.parse_list``);
    ``ConfigError`` naming ``flag`` for an empty item."""
    from assistant.server.keystore import parse_list
    from core.errors import ConfigError

    try:
        return parse_list(values)
    except ConfigError as exc:
        raise ConfigError(f"{flag} {','.join(values or ())!r}: an empty item; give one or "
                          "more comma-separated values, none empty") from exc


def cmd_keys_create(args: argparse.Namespace) -> int:
    from assistant.server.keystore import DEFAULT_ACTIONS, Rate, Scopes

    actions = _listed(args.allow, "--allow") or DEFAULT_ACTIONS
    if "all" in actions:
        from assistant.server.keystore import ACTIONS

        actions = ACTIONS
    scopes = Scopes(sources=_listed(args.sources, "--sources"), tags=_listed(args.tags, "--tags"),
                    adapters=_listed(args.adapters, "--adapters"), actions=actions,
                    rate=Rate.parse(args.rate) if args.rate else None)
    store = _store(args)
    try:
        info, token = store.create(args.name, scopes)
    finally:
        store.close()
    if args.json:
        print(json.dumps({**info.to_json(), "token": token}, indent=2))
        return 0
    print(f"created key {info.id} ({info.name}) in {store.path}")
    print(f"  scopes: {_describe(info.scopes)}")
    print("  token (shown only now; store it as a secret):")
    print(token)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    store = _store(args, read_only=True)
    try:
        keys = store.list(include_revoked=args.all)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"keys": [k.to_json() for k in keys]}, indent=2))
        return 0
    if not keys:
        print(f"no keys in {store.path}" if store.exists() else f"no key store at {store.path}")
        return 0
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        print(f"{k.id}  {k.name}  ({state}, created {k.created_at})\n    {_describe(k.scopes)}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from core.errors import ConfigError

    store = _store(args)
    if not store.exists():  # revoking creates no store
        store.close()
        raise ConfigError(f"no key store at {store.path}: no key {args.id!r} to revoke")
    try:
        info = store.revoke(args.id)
    finally:
        store.close()
    print(f"revoked key {info.id} ({info.name}) at {info.revoked_at}")
    return 0


def _describe(scopes) -> str:
    def listed(values, everything: str) -> str:
        return everything if values is None else (", ".join(values) or "none")

    docs = "all documents" if scopes.access is None else (
        f"sources {listed(scopes.sources, 'none')}; tags {listed(scopes.tags, 'none')}")
    return (f"{docs}; adapters {listed(scopes.adapters, 'all')}; "
            f"may {', '.join(scopes.actions) or 'nothing'}; "
            f"rate {scopes.rate or 'unlimited'}")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``keys`` on the main parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--keys", metavar="FILE",
                        help="key store (default: ASSISTANT_SERVER_KEYS_DB or "
                             "$ASSISTANT_HOME/keys.sqlite)")

    p = sub.add_parser("keys", help="API keys of `assistant serve`: create, list, revoke")
    ksub = p.add_subparsers(dest="keys_command", required=True)

    q = ksub.add_parser("create", parents=[common], help="make a key; prints its token once")
    q.add_argument("name", help="who or what uses it (shown by `keys list`)")
    q.add_argument("--sources", action="append", metavar="PATTERNS",
                   help="retrieve only from these sources (glob, comma-separated or "
                        "repeated: 'public/*'); default: every document unless --tags")
    q.add_argument("--tags", action="append", metavar="TAGS",
                   help="retrieve only documents with one of these access tags (from "
                        "`ingest --metadata`); with --sources: either one lets a document in")
    q.add_argument("--adapters", action="append", metavar="NAMES",
                   help="adapters it may name (support allows support@vN); default: all; "
                        "the base model is always allowed")
    q.add_argument("--allow", action="append", metavar="ACTIONS",
                   help="search, answer, feedback, admin or all (default: "
                        "search,answer,feedback)")
    q.add_argument("--rate", metavar="N/PERIOD",
                   help="request rate limit: 60/min, 5/s, 1000/hour (default: none)")
    q.add_argument("--json", action="store_true", help="print the key and token as JSON")
    q.set_defaults(func=cmd_keys_create)

    q = ksub.add_parser("list", parents=[common], help="keys and scopes (never tokens)")
    q.add_argument("--all", action="store_true", help="revoked keys too")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_keys_list)

    q = ksub.add_parser("revoke", parents=[common], help="revoke a key by id (applies at once)")
    q.add_argument("id", help="the key id (k_...) from `keys list`")
    q.set_defaults(func=cmd_keys_revoke)
