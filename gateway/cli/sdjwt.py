"""`robopass credential`: SD-JWT VC passports for owners, and the registry's status list.

`issue` signs a robot's passport for its current owner's holder key;
`status-list` revokes the credentials of robots that changed hands and writes
the signed Token Status List verifiers check; `holder-key` makes a holder key
pair. The registry operator runs these on the registry's own store, under
the demo policy set as `robopass serve` applies it; the owner is named by
party identifier and must be the robot's current owner. Exit codes as for
`export`: 0 done, 1 refused (no robot, not the owner), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gateway.cli.credentials import data_dir_of, issuer_of, read_text, usage
from gateway.cli.defaults import configured, demo_database
from schema.code import RobotCode, RobotCodeError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add `robopass credential` and its sub-commands."""
    credential = sub.add_parser("credential", help="SD-JWT VC passports (selective disclosure)")
    commands = credential.add_subparsers(dest="credential_command", required=True)

    issue = commands.add_parser("issue", help="issue a robot's SD-JWT VC to its current owner")
    issue.add_argument("code", help="the robot code")
    issue.add_argument("--owner", required=True, help="the owner's party identifier")
    issue.add_argument("--holder-key", required=True, help="holder JWK file (public part sent)")
    _store_options(issue)
    issue.add_argument("-o", "--output", help="file to write (default: standard output)")
    issue.set_defaults(func=cmd_issue)

    status = commands.add_parser("status-list", help="revoke changed hands, write the status list")
    _store_options(status)
    status.add_argument("-o", "--output", help="file to write (default: standard output)")
    status.set_defaults(func=cmd_status_list)

    holder = commands.add_parser("holder-key", help="create a holder key pair (EC P-256 JWK)")
    holder.add_argument("-o", "--output", required=True, help="private JWK file to create (0600)")
    holder.set_defaults(func=cmd_holder_key)


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="default: the demo database")
    parser.add_argument("--data-dir", default=None, help="where the signing key lives")
    parser.add_argument("--issuer", default=None, help="issuer id of the signing registry")


def _open(args: argparse.Namespace) -> tuple[Any, Any] | int:
    """(store, Issuer) or an exit status."""
    from gateway.credentials.signing import RegistrySigner
    from gateway.credentials.statuslist import Ledger
    from gateway.service.passport_vc import Issuer
    from gateway.store.open import MissingStore, open_store
    from policies import PolicySet

    settings = configured()
    data_dir = data_dir_of(args, settings)
    db = args.db or settings.store.db or demo_database(data_dir)
    try:
        store = open_store(db, existing=True)
    except MissingStore as exc:
        return usage(str(exc))
    signer = RegistrySigner.from_data_dir(data_dir, issuer_of(args, settings), store.registry)
    return store, Issuer(signer, Ledger(data_dir), PolicySet.demo())


def cmd_issue(args: argparse.Namespace) -> int:
    from gateway.credentials.sdvc import holder_public_jwk
    from policies import WRITE_SCOPE, Principal, Role
    from schema.writes import WriteError

    try:
        code = RobotCode.parse(args.code).value
    except RobotCodeError as exc:
        return usage(f"bad robot code ({exc.rule}): {exc}")
    try:
        jwk = holder_public_jwk(_public_part(json.loads(read_text(args.holder_key))))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return usage(f"--holder-key {args.holder_key}: {exc}")
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    store, issuer = opened
    try:
        passport = store.passport(code)
        owner = passport.current_owner if passport is not None else None
        principal = Principal(
            issuer="robopass-cli",
            subject=args.owner,
            role=Role.OWNER,
            organisation_id=args.owner,
            jurisdiction=owner.jurisdiction if owner is not None else None,
            scopes=frozenset({WRITE_SCOPE}),
        )
        try:
            text = issuer.issue(principal, passport, jwk) + "\n"
        except WriteError as exc:
            rule = f" ({exc.rule})" if exc.rule else ""
            print(f"robopass: refused{rule}: {exc.message} ({code})", file=sys.stderr)
            return 1
    finally:
        store.close()
    _write(args.output, text)
    return 0


def cmd_status_list(args: argparse.Namespace) -> int:
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    store, issuer = opened
    try:

        def owners_now(code: str) -> int | None:
            passport = store.passport(code)
            return None if passport is None else len(passport.ownership)

        text = issuer.publish_status(owners_now) + "\n"
    finally:
        store.close()
    _write(args.output, text)
    return 0


def cmd_holder_key(args: argparse.Namespace) -> int:
    from joserfc.jwk import ECKey

    path = Path(args.output)
    key = ECKey.generate_key("P-256", private=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return usage(f"cannot create {path}: {exc.strerror} (a holder key is never overwritten)")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(key.as_dict(private=True), f)
    print(json.dumps(key.as_dict(private=False)))
    return 0


def _public_part(jwk: Any) -> Any:
    """A holder's own key file may hold the private part; only the public part is sent on."""
    if isinstance(jwk, dict):
        return {k: v for k, v in jwk.items() if k != "d"}
    return jwk


def _write(output: str | None, text: str) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
