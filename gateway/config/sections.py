"""The typed sections of the configuration, one frozen dataclass per `[section]`.

Their fields carry no defaults: `load_config` fills the schema's in before a
section is built, so schema.json stays the one place a default is written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """`[server]`: where to listen, what GraphQL shows, how to log."""

    host: str
    port: int
    production: bool
    console: bool | None
    introspection: bool | None
    on_denied: str
    log_level: str
    log_format: str
    forwarded_allow_ips: str
    demo_auth: bool
    compiled: bool
    max_header_bytes: int


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """`[store]`: the registry database; None fields are unset (the CLI picks the demo's)."""

    db: str | None
    data_dir: str | None
    robots: int
    pool_size: int


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """`[audit]`: the disclosure log; `db` None keeps it beside the registry. With
    `witnesses`, serve has its checkpoints (origin robopass.audit/`name`) cosigned
    every `witness_interval` seconds (gateway/service/auditwitness.py)."""

    db: str | None
    name: str
    witnesses: tuple[str, ...]
    witness_interval: float


@dataclass(frozen=True, slots=True)
class PersistedSettings:
    """`[persisted]`: a safelist manifest, or None to accept any document (and APQ)."""

    safelist: str | None


@dataclass(frozen=True, slots=True)
class BucketSettings:
    """One class of caller's token bucket: `rate` per second, `burst` at once."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """`[rate_limits]`: off unless enabled; in Redis when `redis_url` is set."""

    enabled: bool
    redis_url: str | None
    key_prefix: str
    anonymous: BucketSettings
    authenticated: BucketSettings


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """`[metrics]`: whether GET /metrics is served."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """`[tracing]`: OpenTelemetry spans, exported where `exporter` and `endpoint` say."""

    enabled: bool
    exporter: str
    endpoint: str | None
    service_name: str


@dataclass(frozen=True, slots=True)
class AuthServerSettings:
    """`[auth_server]`: where `robopass auth-server` listens."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """`[node]`: `robopass registry serve`; `db` None is the node's own file in the data dir."""

    db: str | None
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class WitnessSettings:
    """`[witness]`: where `robopass witness serve` listens and the name its key carries."""

    host: str
    port: int
    name: str


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """`[demo]`: `robopass demo`; a `base_port` of 0 picks free ports."""

    host: str
    base_port: int
    data_dir: str | None


@dataclass(frozen=True, slots=True)
class RollupSettings:
    """`[rollup]`: how old raw samples are before `registry rollup` folds them into days."""

    after: str


@dataclass(frozen=True, slots=True)
class CredentialsSettings:
    """`[credentials]`: the issuer `robopass export` signs as; None is the registry's own."""

    issuer: str | None


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """`[sync]`: how `robopass sync` authenticates: a token, or a demo client's secret."""

    token: str | None
    client_secret: str | None


@dataclass(frozen=True, slots=True)
class WorkbenchSettings:
    """`[workbench]`: where the official reference schemas are (None: not checked)."""

    reference: str | None


@dataclass(frozen=True, slots=True)
class MappingsSettings:
    """`[mappings]`: the folder of mapping documents served as export formats (None: none),
    and the memory cap and number of the worker processes that run them (cap 0: in process).
    """

    folder: str | None
    memory_mb: int
    workers: int


# The typed sections, by their key in the document. Their fields carry no
# defaults: the schema's are filled in before they are built, so schema.json
# stays the one place a default is written.
SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "store": StoreSettings,
    "audit": AuditSettings,
    "persisted": PersistedSettings,
    "rate_limits": RateLimitSettings,
    "metrics": MetricsSettings,
    "tracing": TracingSettings,
    "auth_server": AuthServerSettings,
    "node": NodeSettings,
    "witness": WitnessSettings,
    "demo": DemoSettings,
    "rollup": RollupSettings,
    "credentials": CredentialsSettings,
    "sync": SyncSettings,
    "workbench": WorkbenchSettings,
    "mappings": MappingsSettings,
}
