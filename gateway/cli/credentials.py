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

__all__ = ["USAGE", "data_dir_of", "issuer_of", "read_text", "register", "usage"]

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
    export.add_argument(
        "--proof", metavar="FILE", help="also write the transparency log proof (needs --sign)"
    )
    export.add_argument(
        "--witness",
        action="append",
        metavar="URL",
        help="add-checkpoint URL of a witness to cosign the proof's checkpoint, repeatable",
    )
    export.set_defaults(func=cmd_export)

    verify = sub.add_parser("verify", help="check a signed credential or SD-JWT presentation")
    verify.add_argument("file", help="the credential or presentation, - for standard input")
    verify.add_argument("--jwks", help="JWKS file or URL (default: this registry's own keys)")
    verify.add_argument("--data-dir", default=None, help=KEY_FOLDER)
    verify.add_argument("--audience", help="presentations: the audience you gave the holder")
    verify.add_argument("--nonce", help="presentations: the nonce you gave the holder")
    verify.add_argument(
        "--status-list", help="presentations: the status list token, file or URL (default: its uri)"
    )
    verify.add_argument(
        "--max-age", type=int, default=300, help="presentations: oldest key binding, seconds"
    )
    verify.add_argument("--proof", metavar="FILE", help="the transparency log proof to check too")
    verify.add_argument("--log-key", metavar="VKEY", help="the registry's log key (with --proof)")
    verify.add_argument(
        "--witness",
        action="append",
        metavar="VKEY",
        help="a witness whose cosignature the checkpoint must carry, repeatable",
    )
    verify.set_defaults(func=cmd_verify)

    key = sub.add_parser("key", help="the registry's credential signing key")
    key_sub = key.add_subparsers(dest="key_command", required=True)
    jwks = key_sub.add_parser("jwks", help="print the public JWKS to publish")
    jwks.add_argument("--data-dir", default=None, help=KEY_FOLDER)
    jwks.set_defaults(func=cmd_key_jwks)
    rotate = key_sub.add_parser("rotate", help="retire the signing key and create a new one")
    rotate.add_argument("--data-dir", default=None, help=KEY_FOLDER)
    rotate.set_defaults(func=cmd_key_rotate)


def data_dir_of(args: argparse.Namespace, settings: Settings | None = None) -> Path:
    """`--data-dir`, else `store.data_dir` (ROBOPASS_DATA_DIR), else the user's data folder."""
    if args.data_dir is not None:
        return Path(args.data_dir).expanduser()
    return Path(configured_data_dir(settings or configured())).expanduser()


def issuer_of(args: argparse.Namespace, settings: Settings) -> str:
    """`--issuer`, else `credentials.issuer` (ROBOPASS_ISSUER), else the gateway's address."""
    if args.issuer is not None:
        return args.issuer
    server = settings.server
    configured_issuer = settings.credentials.issuer
    return configured_issuer or f"http://{server.host}:{server.port}"


def cmd_export(args: argparse.Namespace) -> int:
    from gateway.credentials.signing import RegistrySigner, issue
    from gateway.store.open import MissingStore, open_store

    settings = configured()
    data_dir = data_dir_of(args, settings)
    db = args.db or settings.store.db or demo_database(data_dir)
    try:
        code = RobotCode.parse(args.code).value
    except RobotCodeError as exc:
        return usage(f"bad robot code ({exc.rule}): {exc}")
    if args.proof and not args.sign:
        return usage("--proof needs --sign: the credential states the version the proof is about")
    try:
        store = open_store(db, existing=True)
    except MissingStore as exc:
        return usage(str(exc))
    try:
        passport = store.passport(code)
        if passport is None:
            print(f"robopass: no robot {code} in {store.location}", file=sys.stderr)
            return 1
        document = export_document(passport, args.format)
        if args.sign:
            issuer = issuer_of(args, settings)
            signer = RegistrySigner.from_data_dir(data_dir, issuer, store.registry)
            head = store.head(code)
            version = (head.sequence, head.hash) if head is not None else None
            text = issue(document, args.format, code, signer, version=version) + "\n"
            if args.proof and head is not None:
                proof = log_proof(store, data_dir, code, head.sequence, args.witness or [])
                Path(args.proof).write_text(json.dumps(proof, indent=2) + "\n", "utf-8")
        else:
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    finally:
        store.close()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def log_proof(
    store: Any, data_dir: Path, code: str, sequence: int, witnesses: list[str]
) -> dict[str, Any]:
    """The log proof of one event: checkpoint (cosigned by `witnesses`) and inclusion path."""
    from gateway.credentials.logkey import event_log_origin, load_or_create, log_key_file
    from gateway.credentials.logproof import LogProof
    from gateway.service.transparency import EventLog
    from gateway.service.witnessing import WitnessedLog
    from schema.tlog.note import Checkpoint, split_note

    key_file = data_dir / log_key_file(store.registry)
    log = EventLog(store, load_or_create(key_file, event_log_origin(store.registry)))
    witnessed = WitnessedLog(log, witnesses) if witnesses else None
    try:
        note = witnessed.checkpoint() if witnessed is not None else log.checkpoint()
    finally:
        if witnessed is not None:
            for url, error in witnessed.errors().items():
                print(f"robopass: witness {url} did not cosign: {error}", file=sys.stderr)
            witnessed.close()
    size = Checkpoint.parse(split_note(note)[0]).size
    inclusion = log.inclusion(code, sequence, size)
    head = store.head(code)
    return LogProof(
        code=code,
        sequence=sequence,
        hash=head.hash,
        commitment=inclusion.commitment or "",
        index=inclusion.index,
        size=size,
        hashes=inclusion.hashes,
        checkpoint=note,
    ).to_json()


def cmd_verify(args: argparse.Namespace) -> int:
    from gateway.credentials.verification import InvalidCredential, UnreadableJWKS, key_set, verify

    try:
        token = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return usage(f"cannot read {args.file}: {exc}")
    try:
        keys = key_set(_jwks(args))
    except UnreadableJWKS as exc:
        return usage(f"unreadable JWKS: {exc}")
    if "~" in token:
        return _verify_presentation(args, token, keys)
    try:
        result = verify(token, keys)
    except InvalidCredential as exc:
        print(f"INVALID ({exc.rule}): {exc}")
        return 1
    logged: list[str] = []
    if args.proof:
        from gateway.credentials.logproof import InvalidLogProof

        try:
            logged = _check_proof(args, result.credential)
        except InvalidLogProof as exc:
            print(f"INVALID ({exc.check}): {exc}")
            return 1
        except ValueError as exc:
            return usage(str(exc))
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
    print("\n".join([*lines, *logged]))
    return 0


def _verify_presentation(args: argparse.Namespace, token: str, keys: Any) -> int:
    """An SD-JWT VC presentation: every check, then exactly the claims it disclosed."""
    from datetime import timedelta

    from gateway.credentials.sdvc import verify_presentation
    from gateway.credentials.verification import InvalidCredential

    if not args.audience or not args.nonce:
        return usage(
            "a presentation is checked against the audience and nonce you gave its holder:"
            " pass --audience and --nonce"
        )
    try:
        result = verify_presentation(
            token,
            keys,
            audience=args.audience,
            nonce=args.nonce,
            status_lists=lambda uri: _document(args.status_list or uri),
            max_age=timedelta(seconds=args.max_age),
        )
    except InvalidCredential as exc:
        print(f"INVALID ({exc.rule}): {exc}")
        return 1
    lines = [
        "VALID: issuer signature, disclosures, key binding and status all check",
        f"issuer:    {result.issuer}",
        f"key:       {result.kid}",
        f"type:      {result.vct}",
        f"issued:    {_when(result.issued_at)}",
        f"presented: {_when(result.presented_at)} to {result.audience}",
        f"status:    valid (index {result.status_idx} of {result.status_uri})",
        "disclosed claims:",
        json.dumps(result.claims, ensure_ascii=False, indent=2, sort_keys=True),
    ]
    print("\n".join(lines))
    return 0


def _document(source: str) -> str:
    """A file's text, or a URL's body (raises OSError, ValueError)."""
    if source.startswith(("http://", "https://")):
        try:
            response = httpx.get(source, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise OSError(str(exc)) from None
        return response.text
    return Path(source).read_text("utf-8")


def _check_proof(args: argparse.Namespace, claims: dict[str, Any]) -> list[str]:
    """The lines that say where the credential's version is logged; raises on a failed check."""
    from gateway.credentials.logproof import LogProof, check
    from schema.tlog.note import NoteError, Verifier

    if not args.log_key:
        raise ValueError("--proof needs --log-key, the registry's log key (GET /log/key)")
    try:
        log_key = Verifier.from_vkey(args.log_key)
        witnesses = [Verifier.from_vkey(w) for w in args.witness or []]
    except NoteError as exc:
        raise ValueError(f"--log-key/--witness: {exc}") from None
    try:
        data = json.loads(Path(args.proof).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot read {args.proof}: {exc}") from None
    checked = check(LogProof.from_json(data), claims, log_key, witnesses)
    witnessed = ", ".join(checked.witnesses) or "no witness required"
    return [
        f"log:     included in checkpoint {checked.size} of {checked.origin}",
        f"witnessed by: {witnessed}",
    ]


def cmd_key_jwks(args: argparse.Namespace) -> int:
    from gateway.credentials.keys import public_jwks

    print(json.dumps(public_jwks(data_dir_of(args)), indent=2))
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    from gateway.credentials.keys import rotate_key

    key = rotate_key(data_dir_of(args))
    print(f"new signing key {key.kid}; restart robopass serve to publish it")
    return 0


def _jwks(args: argparse.Namespace) -> Any:
    """The key set named by --jwks (file or URL), else this registry's own published keys."""
    from gateway.credentials.keys import KEY_FILE, public_jwks
    from gateway.credentials.verification import UnreadableJWKS

    source = args.jwks
    if source is None:
        data_dir = data_dir_of(args)
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


def usage(message: str) -> int:
    """One line on standard error naming what was wrong; the usage exit status."""
    print(f"robopass: {message}", file=sys.stderr)
    return USAGE


def read_text(name: str) -> str:
    """A file's text, or standard input for `-`."""
    return sys.stdin.read() if name == "-" else Path(name).read_text("utf-8")
