"""`robopass config check|show`: validate a configuration file, print the effective one."""

from __future__ import annotations

import argparse
import json
import os
import sys

from gateway.config.settings import CONFIG_ENV, ConfigError, load_config


def register(sub: argparse._SubParsersAction) -> None:
    """Add `config check` and `config show` to the `robopass` commands."""
    config = sub.add_parser("config", help="check or show the gateway configuration")
    conf = config.add_subparsers(dest="config_command", required=True)
    check = conf.add_parser("check", help="validate a configuration file; exit 2 on errors")
    check.add_argument("file", help="the TOML configuration file to check")
    check.set_defaults(func=cmd_config_check)
    show = conf.add_parser("show", help="print the effective configuration, secrets redacted")
    show.add_argument("file", nargs="?", help=f"a TOML file (default: {CONFIG_ENV} or none)")
    show.set_defaults(func=cmd_config_show)


def cmd_config_check(args: argparse.Namespace) -> int:
    """OK and a summary, or every error with its key (exit 2)."""
    # The web layer's readers are what serve would run; imported here, not at startup.
    from gateway.endpoint.persisted import PersistedQueries
    from gateway.web.serving import trusted_issuers

    try:
        settings = load_config(args.file, os.environ)
        trusted_issuers(settings)
        safelist = settings.persisted.safelist
        if safelist:
            try:
                PersistedQueries.from_manifest(safelist)
            except ValueError as error:
                raise ConfigError([f"persisted.safelist: {error}"]) from None
    except ConfigError as exc:
        print(f"{args.file}: {len(exc.errors)} error(s)", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return 2
    print(f"OK {args.file}")
    print(settings.summary())
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    """The effective configuration as JSON (file, environment, defaults), secrets redacted."""
    try:
        settings = load_config(args.file or os.environ.get(CONFIG_ENV), os.environ)
    except ConfigError as exc:
        print(f"robopass: configuration:\n{exc}", file=sys.stderr)
        return 2
    print(json.dumps(settings.redacted(), indent=2, sort_keys=True))
    return 0
