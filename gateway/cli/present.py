"""`robopass present`: the holder turns its SD-JWT VC into a presentation for one verifier.

Only the claims named by `--disclose` (dot paths such as `maintenance` or
`maintenance.kind`; a name takes everything below it) go out, with a
key-binding JWT signed by the holder's key over the verifier's audience and
nonce. Exit codes: 0 written, 2 bad input (a file, a key, a claim the
credential does not have).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.cli.credentials import read_text, usage

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add `robopass present`."""
    present = sub.add_parser("present", help="present chosen claims of an SD-JWT VC")
    present.add_argument("credential", help="the SD-JWT VC file, - for standard input")
    present.add_argument("--disclose", required=True, help="comma-separated claim paths")
    present.add_argument("--audience", required=True, help="the verifier's identifier (aud)")
    present.add_argument("--nonce", required=True, help="the nonce the verifier gave")
    present.add_argument("--holder-key", required=True, help="the holder's private JWK file")
    present.add_argument("-o", "--output", help="file to write (default: standard output)")
    present.set_defaults(func=cmd_present)


def cmd_present(args: argparse.Namespace) -> int:
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    from gateway.credentials.sdjwt import InvalidSDJWT
    from gateway.credentials.sdvc import present

    try:
        credential = read_text(args.credential)
    except (OSError, UnicodeDecodeError) as exc:
        return usage(f"cannot read {args.credential}: {exc}")
    try:
        key = ECKey.import_key(json.loads(read_text(args.holder_key)))
        if not key.is_private:
            return usage(f"--holder-key {args.holder_key} holds no private key (d)")
    except (OSError, UnicodeDecodeError, ValueError, JoseError) as exc:
        return usage(f"--holder-key {args.holder_key}: {exc}")
    names = [n for n in args.disclose.split(",") if n.strip()]
    if not names:
        return usage("--disclose names no claim")
    if not args.audience or not args.nonce:
        return usage("--audience and --nonce must not be empty")
    try:
        text = present(credential, names, args.audience, args.nonce, key) + "\n"
    except InvalidSDJWT as exc:
        return usage(f"cannot present ({exc.rule}): {exc}")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
