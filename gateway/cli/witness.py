"""`robopass witness serve`: a transparency log witness (C2SP tlog-witness).

It follows the logs whose verifier keys it is given (`--log`, repeatable; a
key names its log's origin), keeps its state and its key in the data folder
(`witness.db`, `witness-key`), and prints its own verifier key for the parties
that check its cosignatures. Defaults: `witness.host`, `witness.port`,
`witness.name` (ROBOPASS_WITNESS_HOST, ..._PORT, ..._NAME), `store.data_dir`
and `server.log_level`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.defaults import configured, data_dir, given
from gateway.config.paths import default_data_dir
from gateway.config.settings import default_of


def register(sub: argparse._SubParsersAction) -> None:
    """Add `witness` and its `serve` sub-command to the `robopass` commands."""
    witness = sub.add_parser("witness", help="transparency log witness")
    commands = witness.add_subparsers(dest="witness_command", required=True)
    parser = commands.add_parser("serve", help="cosign the checkpoints of the logs it follows")
    parser.add_argument(
        "--log",
        action="append",
        required=True,
        metavar="VKEY",
        help="verifier key of a log to follow (<origin>+<key ID>+<key>), repeatable",
    )
    parser.add_argument(
        "--name",
        default=None,
        help=f"its key's name (ROBOPASS_WITNESS_NAME; default {default_of('witness.name')})",
    )
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to listen on (ROBOPASS_WITNESS_HOST; default {default_of('witness.host')})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on (ROBOPASS_WITNESS_PORT; default {default_of('witness.port')})",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"where its state and key live (ROBOPASS_DATA_DIR; default {default_data_dir()})",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help=f"uvicorn's log level (default {default_of('server.log_level')})",
    )
    parser.set_defaults(func=cmd_witness_serve)


def cmd_witness_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.credentials.logkey import WITNESS_KEY_FILE, KeyNameMismatch, load_or_create
    from gateway.witness.app import create_witness_app
    from gateway.witness.service import Witness
    from gateway.witness.state import WitnessState
    from schema.tlog.note import ED25519, NoteError, Verifier

    settings = configured()
    defaults = settings.witness
    folder = Path(given(args.data_dir, data_dir(settings))).expanduser()
    name = given(args.name, defaults.name)
    logs = []
    for text in args.log:
        try:
            log = Verifier.from_vkey(text)
        except NoteError as exc:
            raise SystemExit(f"robopass: --log {text!r}: {exc}") from None
        if log.kind != ED25519:
            raise SystemExit(f"robopass: --log {text!r}: a log key is an Ed25519 (0x01) key")
        logs.append(log)
    try:
        signer = load_or_create(folder / WITNESS_KEY_FILE, name, witness=True)
    except KeyNameMismatch as exc:
        raise SystemExit(f"robopass: --name: {exc}") from None
    state = WitnessState(folder / "witness.db")
    app = create_witness_app(Witness(signer, logs, state))
    host, port = given(args.host, defaults.host), given(args.port, defaults.port)
    print(f"robopass witness {name} on http://{host}:{port}/add-checkpoint", flush=True)
    print(f"witness key: {signer.verifier.vkey()}", flush=True)
    print(f"following: {', '.join(log.name for log in logs)}", flush=True)
    log_level = given(args.log_level, settings.server.log_level)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
    return 0
