"""From validated `Settings` to the parts `create_app` takes: issuers, rate limits, tracing,
the federation's registries and the GraphQL options."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.mapdoc import MappingError
from adapters.mapengine import RunsMapping
from gateway.config.settings import ConfigError, Settings
from gateway.edge.ratelimit import Bucket, MemoryBuckets, RateLimits, RedisBuckets
from gateway.endpoint.options import GraphQLOptions
from gateway.endpoint.persisted import PersistedQueries
from gateway.service.export import EXPORT_FORMATS
from gateway.service.mapdocs import load_folder
from gateway.workbench.pool import WorkerPool
from policies import ClaimMapping, Introspection, Role, TrustedIssuer
from policies.errors import IssuerUnavailable


def trusted_issuers(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> list[TrustedIssuer]:
    """The configured external authorization servers, each trusted only as configured."""
    issuers, errors = [], []
    for i, entry in enumerate(settings.issuers):
        try:
            issuers.append(_issuer(entry, environ))
        except (ValueError, OSError, IssuerUnavailable) as exc:
            errors.append(f"issuers[{i}]: {exc}")
    if errors:
        raise ConfigError(errors)
    return issuers


def _issuer(entry: Mapping[str, Any], environ: Mapping[str, str]) -> TrustedIssuer:
    extra: dict[str, Any] = {}
    if "algorithms" in entry:
        extra["algorithms"] = frozenset(entry["algorithms"])
    if "roles" in entry:
        extra["roles"] = frozenset(Role(r) for r in entry["roles"])
    if "claims" in entry:
        extra["claims"] = ClaimMapping(**entry["claims"])
    if "jwks_file" in entry:
        extra["jwks"] = json.loads(Path(entry["jwks_file"]).expanduser().read_text("utf-8"))
    if "introspection" in entry:
        spec = entry["introspection"]
        secret = environ.get(spec["client_secret_env"], "")
        extra["introspection"] = Introspection(spec["endpoint"], spec["client_id"], secret)
    return TrustedIssuer(
        issuer=entry["issuer"],
        audience=entry["audience"],
        jurisdictions=frozenset(entry["jurisdictions"]),
        allow_http=entry.get("allow_http", False),
        **extra,
    )


def federation(settings: Settings, environ: Mapping[str, str] = os.environ) -> list[Any]:
    """The registries to federate (`RegistryConfig`s); none means the embedded demo store."""
    from gateway.federation.config import ConfigError as RegistryError
    from gateway.federation.config import registries_from

    if not settings.registries:
        return []
    try:
        return registries_from(settings.registries, "registries", environ)
    except RegistryError as exc:
        raise ConfigError([str(exc)]) from None


def rate_limits(settings: Settings) -> RateLimits | None:
    """Buckets per class of caller, in Redis when a URL is given; None when off."""
    section = settings.rate_limits
    if not section.enabled:
        return None
    anonymous = Bucket(section.anonymous.rate, section.anonymous.burst)
    authenticated = Bucket(section.authenticated.rate, section.authenticated.burst)
    if section.redis_url:
        try:
            buckets: Any = RedisBuckets(section.redis_url, prefix=section.key_prefix)
        except ImportError:
            raise ConfigError(
                ["rate_limits.redis_url: needs the redis package: pip install 'robopass[redis]'"]
            ) from None
    else:
        buckets = MemoryBuckets()
    return RateLimits(anonymous, authenticated, buckets)


def tracer(settings: Settings) -> Any:
    """An OpenTelemetry tracer provider when tracing is on; None when off."""
    section = settings.tracing
    if not section.enabled:
        return None
    try:
        from gateway.edge.tracing import tracer_provider

        return tracer_provider(section.service_name, section.exporter, section.endpoint)
    except ImportError:
        raise ConfigError(
            ["tracing.enabled: needs the otel extra: pip install 'robopass[otel]'"]
        ) from None


def graphql_options(
    settings: Settings,
    persisted: PersistedQueries | None = None,
    example_code: str | None = None,
) -> GraphQLOptions:
    """The endpoint's options from `[server]` and `[limits]`.

    `persisted` is built from `[persisted]` by the caller, which reads the
    manifest and reports a bad one; `example_code` fills the console.
    """
    server = settings.server
    return GraphQLOptions(
        on_denied=server.on_denied,
        limits=settings.limits,
        persisted=persisted,
        production=server.production,
        introspection=server.introspection,
        console=server.console,
        example_code=example_code,
        compiled=server.compiled,
    )


def export_mappings(settings: Settings) -> dict[str, RunsMapping]:
    """The mapping documents of `[mappings] folder`, compiled, by id; none when unset.

    Every problem of a document is a configuration error naming the key, the file, the
    rule and its line, so a gateway never starts with a mapping it cannot run. With a
    `memory_mb` cap (the default) they run in a pool of capped worker processes, started
    here; with 0, in this process.
    """
    section = settings.mappings
    if section.folder is None:
        return {}
    try:
        programs = load_folder(Path(section.folder).expanduser(), EXPORT_FORMATS)
    except FileNotFoundError as exc:
        raise ConfigError([f"mappings.folder: {exc}"]) from None
    except MappingError as exc:
        raise ConfigError([f"mappings.folder: {p}" for p in _located(exc)]) from None
    if not programs or section.memory_mb == 0:
        return dict(programs)
    return dict(WorkerPool(programs, section.memory_mb, section.workers).runners())


def _located(exc: MappingError) -> list[str]:
    return [f"{exc.origin}: {problem}" for problem in exc.problems]
