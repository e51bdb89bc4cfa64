"""The federation's configuration: which registries, where, and how hard to try each.

One `[[registries]]` table per registry node, with exactly the keys of
docs/registry-api.md. Every entry is checked at start and an error names the
key path (`registries[1].base_url: ...`), so a typo stops the gateway instead
of sending requests nowhere. Client secrets are read from the environment
variable the file names; the file never holds one.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from schema.code import is_country
from schema.tlog.note import COSIGNATURE, ED25519, NoteError, Verifier

FORMATS = ("cn-miit", "aas")


class ConfigError(ValueError):
    """A configuration value that breaks a rule; the message starts with its key path."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Client credentials for the service token; the secret stays in the environment."""

    token_url: str
    client_id: str
    client_secret_env: str

    def secret(self, env: Mapping[str, str] | None = None) -> str:
        """The client secret, read when a token is needed, never stored on this object."""
        return (os.environ if env is None else env)[self.client_secret_env]


@dataclass(frozen=True, slots=True)
class Retry:
    """Retries of idempotent reads: `attempts` in all, full-jitter backoff doubling per try."""

    attempts: int = 3
    backoff: float = 0.05


@dataclass(frozen=True, slots=True)
class Breaker:
    """`failures` consecutive failed calls open the breaker for `reset_after` seconds."""

    failures: int = 5
    reset_after: float = 10.0


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """One registry node the gateway federates."""

    id: str
    format: str
    base_url: str
    countries: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    timeout: float = 2.0
    freshness: float = 0.5
    """Seconds a cached passport may lag the node (its change feed's staleness
    bound); 0 revalidates every read with the node."""
    credentials: Credentials | None = None
    retry: Retry = field(default_factory=Retry)
    breaker: Breaker = field(default_factory=Breaker)
    log_key: Verifier | None = None
    """The node's log key: set, every version served must be in a checkpoint it signed."""
    witnesses: tuple[Verifier, ...] = ()
    """Witnesses whose cosignature every such checkpoint must carry."""

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        where: str = "registries[0]",
        env: Mapping[str, str] | None = None,
    ) -> RegistryConfig:
        """One `[[registries]]` entry, checked; `where` prefixes every error's key path."""
        table = _Table(data, where)
        table.only(
            "id",
            "format",
            "base_url",
            "countries",
            "jurisdictions",
            "timeout",
            "freshness",
            "credentials",
            "retry",
            "breaker",
            "log_key",
            "witnesses",
        )
        registry_id = table.text("id")
        fmt = table.text("format")
        if fmt not in FORMATS:
            raise table.error("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
        countries = table.countries("countries")
        jurisdictions = table.countries("jurisdictions") if "jurisdictions" in data else countries
        credentials = None
        if "credentials" in data:
            credentials = _credentials(table.sub("credentials"), env)
        retry = Retry()
        if "retry" in data:
            sub = table.sub("retry")
            sub.only("attempts", "backoff")
            retry = Retry(
                attempts=sub.integer("attempts", retry.attempts, minimum=1),
                backoff=sub.number("backoff", retry.backoff, allow_zero=True),
            )
        breaker = Breaker()
        if "breaker" in data:
            sub = table.sub("breaker")
            sub.only("failures", "reset_after")
            breaker = Breaker(
                failures=sub.integer("failures", breaker.failures, minimum=1),
                reset_after=sub.number("reset_after", breaker.reset_after),
            )
        return cls(
            id=registry_id,
            format=fmt,
            base_url=table.url("base_url").rstrip("/"),
            countries=countries,
            jurisdictions=jurisdictions,
            timeout=table.number("timeout", 2.0),
            freshness=table.number("freshness", 0.5, allow_zero=True),
            credentials=credentials,
            retry=retry,
            breaker=breaker,
            **_transparency(table, data),
        )


def registries_from(
    items: Any, where: str = "registries", env: Mapping[str, str] | None = None
) -> list[RegistryConfig]:
    """The `registries` list of a configuration file: each entry checked, then all together.

    This is the one entry point for any configuration loader: ids must be
    unique and no country prefix may be served by two registries.
    """
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise ConfigError(f"{where}: must be a non-empty list of [[registries]] tables")
    registries: list[RegistryConfig] = []
    ids: dict[str, int] = {}
    homes: dict[str, str] = {}
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        registry = RegistryConfig.from_mapping(item, here, env)
        if registry.id in ids:
            raise ConfigError(
                f"{here}.id: {registry.id!r} is already the id of {where}[{ids[registry.id]}]"
            )
        ids[registry.id] = index
        for country in registry.countries:
            if country in homes:
                raise ConfigError(
                    f"{here}.countries: {country} is already served by registry {homes[country]!r}"
                )
            homes[country] = registry.id
        registries.append(registry)
    return registries


def load_federation(path: str | Path, env: Mapping[str, str] | None = None) -> list[RegistryConfig]:
    """The registries of a TOML configuration file; `ConfigError` names the first bad key."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if "registries" not in data:
        raise ConfigError(f"{path}: registries: missing; add one [[registries]] table per node")
    return registries_from(data["registries"], "registries", env)


def _transparency(table: _Table, data: Mapping[str, Any]) -> dict[str, Any]:
    """`log_key` and `witnesses`, parsed; witnesses without a log key are refused."""
    if "log_key" not in data:
        if data.get("witnesses"):
            raise table.error("witnesses", "needs log_key: a cosignature is of a log's checkpoint")
        return {}
    try:
        log_key = Verifier.from_vkey(table.text("log_key"))
    except NoteError as exc:
        raise table.error("log_key", str(exc)) from None
    if log_key.kind != ED25519:
        raise table.error("log_key", "must be an Ed25519 (0x01) note key")
    items = data.get("witnesses", [])
    if not isinstance(items, list):
        raise table.error("witnesses", "must be a list of witness verifier keys")
    witnesses = []
    for index, item in enumerate(items):
        try:
            witness = Verifier.from_vkey(item if isinstance(item, str) else "")
        except NoteError as exc:
            raise table.error(f"witnesses[{index}]", str(exc)) from None
        if witness.kind != COSIGNATURE:
            raise table.error(f"witnesses[{index}]", "must be a cosignature (0x04) key")
        witnesses.append(witness)
    return {"log_key": log_key, "witnesses": tuple(witnesses)}


def _credentials(table: _Table, env: Mapping[str, str] | None) -> Credentials:
    table.only("token_url", "client_id", "client_secret_env")
    variable = table.text("client_secret_env")
    environment = os.environ if env is None else env
    if not environment.get(variable):
        raise table.error("client_secret_env", f"environment variable {variable} is not set")
    return Credentials(
        token_url=table.url("token_url"),
        client_id=table.text("client_id"),
        client_secret_env=variable,
    )


class _Table:
    """Typed access to one TOML table; every error carries the key's full path."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: must be a table, not {type(data).__name__}")
        self.data = data
        self.where = where

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}.{key}: {message}")

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                raise self.error(key, f"unknown key; expected one of {', '.join(keys)}")

    def sub(self, key: str) -> _Table:
        return _Table(self.data[key], f"{self.where}.{key}")

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            raise self.error(key, "missing")
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be a non-empty string")
        return value.strip()

    def url(self, key: str) -> str:
        value = self.text(key)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.error(key, f"must be an http(s) URL with a host, not {value!r}")
        return value

    def countries(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            raise self.error(key, "missing")
        if not isinstance(value, list) or not value:
            raise self.error(key, "must be a non-empty list of ISO 3166-1 alpha-2 codes")
        found: list[str] = []
        for item in value:
            if not isinstance(item, str) or not is_country(item):
                raise self.error(key, f"{item!r} is not an ISO 3166-1 alpha-2 country code")
            if item in found:
                raise self.error(key, f"{item} is listed twice")
            found.append(item)
        return tuple(found)

    def number(self, key: str, default: float, *, allow_zero: bool = False) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number of seconds, not {value!r}")
        if value < 0 or (value == 0 and not allow_zero):
            raise self.error(
                key, f"must be {'zero or ' if allow_zero else ''}positive, not {value}"
            )
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {value!r}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value}")
        return value
