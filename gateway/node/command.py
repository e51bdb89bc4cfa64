"""One registry node as its own process: what `robopass registry serve` runs.

On first run the node seeds its store with a synthetic fleet of its countries
(as `robopass serve` does), so a fresh machine gets a working node with one
command. Tokens come from the issuers it is told to trust, by discovery. The
command line (gateway/cli/registry/serve.py) parses the options; an option
that cannot be used raises `NodeOptionError` before anything is stored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from gateway.credentials.logkey import (
    KeyNameMismatch,
    event_log_origin,
    load_or_create,
    log_key_file,
)
from gateway.service.transparency import EventLog
from gateway.service.witnessing import WitnessedLog
from gateway.store.open import open_store
from gateway.synthetic.fleet import MAKERS
from gateway.synthetic.seeding import seed
from policies import PolicyError

from . import DEFAULT_ISSUER
from .app import create_node_app
from .auth import verifier_for

__all__ = [
    "DEFAULT_COUNTRIES",
    "DEFAULT_ISSUER",
    "DEFAULT_REGISTRY",
    "NodeOptionError",
    "NodeOptions",
    "serve_node",
    "shares",
]

DEFAULT_REGISTRY = {"cn-miit": "cn-heis", "aas": "eu-dpp"}
DEFAULT_COUNTRIES = {"cn-miit": ["CN"], "aas": ["DE", "FR"]}


class NodeOptionError(ValueError):
    """An option of the node cannot be used; the message names the option."""


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """Everything a node process needs; None where the format's default applies."""

    format: str
    host: str
    port: int
    data_dir: Path
    db: str | None = None
    registry: str | None = None
    countries: tuple[str, ...] = ()
    robots: int = 1000
    trust_issuers: tuple[str, ...] = ()
    audience: str = "robopass"
    log_level: str = "info"
    witnesses: tuple[str, ...] = ()


def shares(total: int, countries: list[str]) -> list[tuple[str, int]]:
    """`total` robots split as evenly as can be between `countries`."""
    base, extra = divmod(total, len(countries))
    return [(c, base + (1 if i < extra else 0)) for i, c in enumerate(countries)]


def serve_node(options: NodeOptions) -> int:
    """Check the options, open (and on first run seed) the store, then serve until stopped."""
    registry = options.registry or DEFAULT_REGISTRY[options.format]
    countries = list(dict.fromkeys(options.countries or DEFAULT_COUNTRIES[options.format]))
    for country in countries:
        if country not in MAKERS:
            known = ", ".join(sorted(MAKERS))
            raise NodeOptionError(f"--country {country}: no synthetic makers; use {known}")
    if options.robots < 0:
        raise NodeOptionError("--robots must not be negative")
    issuers = list(options.trust_issuers or [DEFAULT_ISSUER])
    try:
        verifier = verifier_for(issuers, options.audience)
    except (ValueError, PolicyError) as exc:
        raise NodeOptionError(f"--trust-issuer: {exc}") from None
    db = options.db or str(options.data_dir / f"node-{registry}.db")
    store = open_store(db, registry)
    count = store.count()
    # A database of our own is completed after an interrupted first run;
    # a database the user named is seeded only when it is empty.
    if count == 0 or (options.db is None and count < options.robots):
        print(
            f"Seeding {options.robots} robots of {', '.join(countries)} into {store.location}",
            file=sys.stderr,
        )
        for country, share in shares(options.robots, countries):
            seed(store, share, seed_value=0, country=country)
    for unfinished in store.unfinished_campaigns():  # a fan-out a stop left midway
        reached = store.run_campaign(unfinished).reached
        print(f"Campaign {unfinished} resumed: {reached} robots reached", file=sys.stderr)
    try:
        signer = load_or_create(
            options.data_dir / log_key_file(registry), event_log_origin(registry)
        )
    except KeyNameMismatch as exc:
        raise NodeOptionError(f"--data-dir: {exc}") from None
    log = EventLog(store, signer)
    witnessed = WitnessedLog(log, list(options.witnesses)) if options.witnesses else None
    app = create_node_app(
        store, format=options.format, verifier=verifier, log=log, witnessed=witnessed
    )
    base = f"http://{options.host}:{options.port}"
    print(
        f"robopass registry node {registry} ({options.format}): {store.count()} robots",
        flush=True,
    )
    print(f"REST API: {base}/robots  contract: {base}/openapi.json  metrics: {base}/metrics")
    print(f"Transparency log: {base}/log/checkpoint  key: {signer.verifier.vkey()}")
    print(f"Trusted token issuers: {', '.join(issuers)}", flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level=options.log_level)
    return 0
