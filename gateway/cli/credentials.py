"""`robopass export`, `robopass verify` and `robopass key`: signed passports on the command line.

Exit codes follow one rule: 0 the answer is yes (exported, valid), 1 the answer
is no (no such robot, the credential fails a check), 2 the question could not be
asked (a missing file, an unreadable JWKS, a malformed code).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from gateway.cli.defaults import configured, demo_database
from gateway.cli.defaults import data_dir as configured_data_dir
from gateway.config.settings import Settings
from gateway.service.export import EXPORT_FORMATS, export_document
from schema.code import RobotCode, RobotCodeError

__all__ = ["register"]

USAGE = 2
KEY_FOLDER = "where the registry's signing keys live (ROBOPASS_DATA_DIR; default: the data folder)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the credential commands to the `robopass` subparsers."""
    export = sub.add_parser("export", help="write one robot's passport from a local store")
    export.add_argument("code", help="the robot code")
    export.add_argument(
        "--format", required=True, choices=EXPORT_FORMATS, help="the document's format"
    )
    export.add_argument("--sign", action="store_true", help="as a vc+jwt credential")
    export.add_argument("--db", default=None, help="default: the demo database")
    export.add_argument("--data-dir", default=None, help="where the signing key lives")
    export.add_argument("--issuer", default=None, help="issuer id of the signing registry")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_export)

    verify = sub.add_parser("verify", help="check a signed passport credential offline")
    verify.add_argument("file", help="the credential (compact JWS), - for standard input")
    verify.add_argument("--jwks", help="JWKS file or URL (default: this registry's own keys)")
    verify.add_argument("--data-dir", default=None, help=KEY_FOLDER)
    verify.set_defaults(func=cmd_verify)

    key = sub.add_parser("key", help="the registry's credential signing key")
    key_sub = key.add_subparsers(dest="key_command", required=True)
    jwks = key_sub.add_parser("jwks", help="print the public JWKS to publish")
    jwks.add_argument("--data-dir", default=None, help=KEY_FOLDER)
    jwks.set_defaults(func=cmd_key_jwks)
    rotate = key_sub.add_parser("rotate", help="retire the signing key and create a new one")
    rotate.add_argument("--data-dir", default=None, help=KEY_FOLDER)
    rotate.set_defaults(func=cmd_key_rotate)


def _data_dir(args: argparse.Namespace, settings: Settings | None = None) -> Path:
    """`--data-dir`, else `store.data_dir` (ROBOPASS_DATA_DIR), else the user's data folder."""
    if args.data_dir is not None:
        return Path(args.data_dir).expanduser()
    return Path(configured_data_dir(settings or configured())).expanduser()


def _issuer(args: argparse.Namespace, settings: Settings) -> str:
    """`--issuer`, else `credentials.issuer` (ROBOPASS_ISSUER), else the gateway's address."""
    if args.issuer is not None:
        return args.issuer
    server = settings.server
    configured_issuer = settings.credentials.issuer
    return configured_issuer or f"http://{server.host}:{server.port}"


def cmd_export(args: argparse.Namespace) -> int:
    from gateway.credentials.signing import RegistrySigner, issue
    from gateway.store.open import is_postgres, open_store, sqlite_path

    settings = configured()
    data_dir = _data_dir(args, settings)
    db = args.db or settings.store.db or demo_database(data_dir)
    if not is_postgres(db):
        path = sqlite_path(db)
        if path != ":memory:" and not Path(path).is_file():
            return _usage(f"no database at {path}")
    try:
        code = RobotCode.parse(args.code).value
    except RobotCodeError as exc:
        return _usage(f"bad robot code ({exc.rule}): {exc}")
    store = open_store(db)
    try:
        passport = store.passport(code)
        if passport is None:
            print(f"robopass: no robot {code} in {store.location}", file=sys.stderr)
            return 1
        document = export_document(passport, args.format)
        if args.sign:
            issuer = _issuer(args, settings)
            signer = RegistrySigner.from_data_dir(data_dir, issuer, store.registry)
            text = issue(document, args.format, code, signer) + "\n"
        else:
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    finally:
        store.close()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from gateway.credentials.verification import InvalidCredential, UnreadableJWKS, key_set, verify

    try:
        token = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _usage(f"cannot read {args.file}: {exc}")
    try:
        keys = key_set(_jwks(args))
    except UnreadableJWKS as exc:
        return _usage(f"unreadable JWKS: {exc}")
    try:
        result = verify(token, keys)
    except InvalidCredential as exc:
        print(f"INVALID ({exc.rule}): {exc}")
        return 1
    name = f" ({result.issuer_name})" if result.issuer_name else ""
    lines = [
        "VALID: signature matches, the content is as issued",
        f"issuer:  {result.issuer}{name}",
        f"key:     {result.kid}",
        f"issued:  {_when(result.issued_at)}",
        f"robot:   {result.robot_code or 'not stated'}",
        f"format:  {result.format or 'not stated'}",
    ]
    if result.expires_at is not None:
        lines.append(f"expires: {_when(result.expires_at)}")
    print("\n".join(lines))
    return 0


def cmd_key_jwks(args: argparse.Namespace) -> int:
    from gateway.credentials.keys import public_jwks

    print(json.dumps(public_jwks(_data_dir(args)), indent=2))
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    from gateway.credentials.keys import rotate_key

    key = rotate_key(_data_dir(args))
    print(f"new signing key {key.kid}; restart robopass serve to publish it")
    return 0


def _jwks(args: argparse.Namespace) -> Any:
    """The key set named by --jwks (file or URL), else this registry's own published keys."""
    from gateway.credentials.keys import KEY_FILE, public_jwks
    from gateway.credentials.verification import UnreadableJWKS

    source = args.jwks
    if source is None:
        data_dir = _data_dir(args)
        if not (data_dir / KEY_FILE).is_file():
            raise UnreadableJWKS(f"no --jwks given and no registry key in {data_dir}")
        return public_jwks(data_dir)
    if source.startswith(("http://", "https://")):
        try:
            response = httpx.get(source, timeout=10)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UnreadableJWKS(f"{source}: {exc}") from None
    try:
        return json.loads(Path(source).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableJWKS(f"{source}: {exc}") from None


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "not stated"


def _usage(message: str) -> int:
    print(f"robopass: {message}", file=sys.stderr)
    return USAGE
