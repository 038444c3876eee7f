"""`chainloom serve` and `chainloom keys create|list|revoke`.

`main(argv)` runs them on its own; `add_parsers(sub)` adds them to another
argparse parser (the `chainloom` command), with handlers that take
`(args, term=None)`. Exit codes: 0 done, 1 refused (no such key), 2 bad options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _db_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", default="", help="data dir (default: $CHAINLOOM_HOME or ~/.chainloom)")
    p.add_argument("--database-url", default="", metavar="URL",
                   help="SQLAlchemy URL, e.g. postgresql+psycopg://... (default: "
                        "$CHAINLOOM_DATABASE_URL, else SQLite in the data dir)")


def add_parsers(sub: Any) -> None:
    """Add `serve` and `keys` to an argparse sub-parser collection."""
    p = sub.add_parser("serve", help="serve saved flows over a REST API (docs at /docs)",
                       description="Serve saved flows over HTTP. Every route needs an API key "
                                   "(`chainloom keys create NAME`) unless --no-auth on loopback.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--no-auth", action="store_true",
                   help="serve without API keys; allowed only on a loopback host, and only "
                        "loopback clients are served")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser pages from this origin (repeatable; none by default)")
    p.add_argument("--max-body-bytes", type=int, default=None, metavar="N", help="largest request body")
    p.add_argument("--run-timeout", type=float, default=None, metavar="S",
                   help="a run's time limit when the request names none")
    p.add_argument("--max-run-timeout", type=float, default=None, metavar="S",
                   help="the longest time limit a request may ask for")
    p.add_argument("--traces", action="store_true", help="also write trace files under the data dir")
    p.add_argument("--private-docs", action="store_true", help="require a key for /docs and /openapi.json")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    _db_options(p)
    p.set_defaults(handler=cmd_serve)

    keys = sub.add_parser("keys", help="create, list and revoke API keys for `chainloom serve`")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    k = ksub.add_parser("create", help="create a key (printed once; only its hash is stored)")
    k.add_argument("name", help="who or what the key is for, e.g. 'billing-app'")
    _db_options(k)
    k.set_defaults(handler=cmd_keys_create)
    k = ksub.add_parser("list", help="list keys (ids and names; never the keys)")
    k.add_argument("--json", action="store_true", help="print JSON")
    _db_options(k)
    k.set_defaults(handler=cmd_keys_list)
    k = ksub.add_parser("revoke", help="revoke a key by id, or every active key with a name")
    k.add_argument("key", metavar="ID_OR_NAME")
    _db_options(k)
    k.set_defaults(handler=cmd_keys_revoke)


def _err(message: str) -> None:
    print(f"✗ {message}", file=sys.stderr)


def _settings(args: argparse.Namespace, **more: Any) -> Any:
    from server.settings import Settings  # noqa: PLC0415

    return Settings(home=args.home, database_url=args.database_url, **more)


def _engine(args: argparse.Namespace) -> Any:
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    from engine.store import make_engine, unreachable  # noqa: PLC0415
    from server.tables import create_tables  # noqa: PLC0415

    url = _settings(args).url
    engine = make_engine(url)
    try:
        create_tables(engine)
    except OperationalError as err:
        engine.dispose()
        raise unreachable(url, err) from err
    return engine


# ------------------------------------------------------------ keys
def cmd_keys_create(args: argparse.Namespace, term: Any = None) -> int:
    from server.keys import KeyNameError, create_key  # noqa: PLC0415

    engine = _engine(args)
    try:
        record, key = create_key(engine, args.name)
    except KeyNameError as err:
        _err(str(err))
        return EXIT_USAGE
    finally:
        engine.dispose()
    print(key)
    print(f"created key {record.id} '{record.name}'. Copy it now: it is not stored and cannot be "
          "shown again. Send it as `Authorization: Bearer <key>`.", file=sys.stderr)
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace, term: Any = None) -> int:
    from server.keys import list_keys  # noqa: PLC0415

    engine = _engine(args)
    try:
        keys = list_keys(engine)
    finally:
        engine.dispose()
    rows = [{"id": k.id, "name": k.name, "created_at": k.created_at.isoformat(),
             "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None} for k in keys]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no API keys yet; create one with `chainloom keys create NAME`")
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        print(f"{k.id}  {k.name:<30}  created {k.created_at:%Y-%m-%d %H:%M}  {state}")
    return EXIT_OK


def cmd_keys_revoke(args: argparse.Namespace, term: Any = None) -> int:
    from engine.errors import NotFound  # noqa: PLC0415
    from server.keys import revoke_key  # noqa: PLC0415

    engine = _engine(args)
    try:
        revoked = revoke_key(engine, args.key)
    except NotFound as err:
        _err(f"{err.message} ({err.hint})")
        return EXIT_REFUSED
    finally:
        engine.dispose()
    for key in revoked:
        print(f"revoked key {key.id} '{key.name}'")
    return EXIT_OK


# ------------------------------------------------------------ serve
def serve_settings(args: argparse.Namespace) -> Any:
    """Settings from the command line (SettingsError when they are refused)."""
    more: dict[str, Any] = {"host": args.host, "auth": not args.no_auth,
                            "cors_origins": tuple(args.cors_origin), "traces": args.traces,
                            "public_docs": not args.private_docs}
    for name in ("max_body_bytes", "run_timeout", "max_run_timeout"):
        if getattr(args, name) is not None:
            more[name] = getattr(args, name)
    if "run_timeout" in more and "max_run_timeout" not in more:
        more["max_run_timeout"] = max(more["run_timeout"], 3600.0)
    return _settings(args, **more)


def cmd_serve(args: argparse.Namespace, term: Any = None) -> int:
    from server.settings import SettingsError  # noqa: PLC0415

    if not 1 <= args.workers <= 64 or not 0 <= args.port <= 65535:
        _err("--workers must be 1-64 and --port 0-65535")
        return EXIT_USAGE
    try:
        settings = serve_settings(args)
    except SettingsError as err:
        _err(str(err))
        return EXIT_USAGE
    prepare_database(settings)
    import uvicorn  # noqa: PLC0415

    os.environ.update(settings.to_env())
    print(f"chainloom API on http://{args.host}:{args.port} ({args.workers} worker"
          f"{'s' if args.workers != 1 else ''}); docs at /docs", file=sys.stderr)
    uvicorn.run("server.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)
    return EXIT_OK


def prepare_database(settings: Any) -> None:
    """Create every table once, before workers start (so they never race to), and warn on no keys."""
    from server.app import connect_store  # noqa: PLC0415
    from server.keys import list_keys  # noqa: PLC0415
    from server.tables import create_tables  # noqa: PLC0415

    store = connect_store(settings.url)
    try:
        create_tables(store.engine)
        if settings.auth and not any(k.active for k in list_keys(store.engine)):
            print("! no API key exists yet, so every request will get 401; create one with "
                  "`chainloom keys create NAME`", file=sys.stderr)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainloom", description="Serve flows and manage API keys.")
    add_parsers(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    from engine.errors import ChainloomError  # noqa: PLC0415

    try:
        code: int = args.handler(args)
    except ChainloomError as err:  # e.g. the database cannot be opened: one line, with the fix
        _err(str(err))
        return EXIT_REFUSED
    return code


if __name__ == "__main__":
    sys.exit(main())
