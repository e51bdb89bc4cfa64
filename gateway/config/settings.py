"""The gateway's configuration: one TOML file, environment overrides, one JSON Schema.

Precedence, lowest first: the schema's defaults, the file, the environment
(`ROBOPASS_<SECTION>_<KEY>`, e.g. `ROBOPASS_LIMITS_MAX_DEPTH`, and the older
names such as `ROBOPASS_PORT` and `ROBOPASS_DB`), then command-line flags. The
merged document is validated once, against `schema.json`, and every
error names its key (`limits.max_depth: must be >= 1`, `registries[1].base_url:
...`) so an operator fixes them all in one go. Only the valid document is
turned into the typed, frozen `Settings` tree; its dataclasses carry no
defaults of their own, so the schema stays the one place a default is written.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, get_type_hints
from urllib.parse import urlsplit, urlunsplit

from jsonschema import Draft202012Validator, ValidationError

from gateway.config.limits import DEFAULT_WEIGHTS, Limits

from .sections import (
    SECTIONS,
    AuditSettings,
    AuthServerSettings,
    CredentialsSettings,
    DemoSettings,
    MappingsSettings,
    MetricsSettings,
    NodeSettings,
    PersistedSettings,
    RateLimitSettings,
    RollupSettings,
    ServerSettings,
    StoreSettings,
    SyncSettings,
    TracingSettings,
    WitnessSettings,
    WorkbenchSettings,
)

PREFIX = "ROBOPASS_"
CONFIG_ENV = "ROBOPASS_CONFIG"
REDACTED = "***"
# The variables robopass read before there was a file; each still sets its key.
LEGACY_ENV = {
    "ROBOPASS_HOST": "server.host",
    "ROBOPASS_PORT": "server.port",
    "ROBOPASS_PRODUCTION": "server.production",
    "ROBOPASS_CONSOLE": "server.console",
    "ROBOPASS_INTROSPECTION": "server.introspection",
    "ROBOPASS_ON_DENIED": "server.on_denied",
    "ROBOPASS_LOG_LEVEL": "server.log_level",
    "ROBOPASS_DB": "store.db",
    "ROBOPASS_DATA_DIR": "store.data_dir",
    "ROBOPASS_SAFELIST": "persisted.safelist",
    "ROBOPASS_AUTH_HOST": "auth_server.host",
    "ROBOPASS_AUTH_PORT": "auth_server.port",
    "ROBOPASS_ISSUER": "credentials.issuer",
    "ROBOPASS_TOKEN": "sync.token",
    "ROBOPASS_CLIENT_SECRET": "sync.client_secret",
    "ROBOPASS_REFERENCE": "workbench.reference",
    "ROBOPASS_MAPPINGS": "mappings.folder",
    **{
        f"ROBOPASS_{name.upper()}": f"limits.{name}"
        for name in (
            "max_depth",
            "max_aliases",
            "max_tokens",
            "max_root_fields",
            "max_cost",
            "max_body_bytes",
            "timeout",
            "list_size",
        )
    },
}
T = TypeVar("T")
_SECRET_KEY = re.compile(r"(secret|password|passwd|token)$", re.IGNORECASE)


class ConfigError(Exception):
    """The configuration is unusable; `errors` holds one `key: reason` line per problem."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(self.errors))


def schema() -> dict[str, Any]:
    text = resources.files("gateway.config").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


def default_of(key: str) -> Any:
    """The schema's default of a dotted key (`server.port`), for help texts and banners."""
    rules = schema()
    node: dict[str, Any] = rules
    for part in key.split("."):
        node = _resolve(rules, node)["properties"][part]
    return _resolve(rules, node).get("default")


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated configuration as one typed, frozen tree.

    Each object section of the schema is a dataclass here; `limits` is the
    endpoint's own `Limits`. The lists stay as the file gave them: `issuers`
    become `TrustedIssuer`s and `registries` the federation's `RegistryConfig`s
    in `gateway.web.serving`, through their owners' one entry point each.
    `document` is the whole validated document, defaults filled in, for
    printing (`redacted`) and for keys a typed section does not carry yet.
    """

    server: ServerSettings
    store: StoreSettings
    audit: AuditSettings
    limits: Limits
    persisted: PersistedSettings
    rate_limits: RateLimitSettings
    metrics: MetricsSettings
    tracing: TracingSettings
    auth_server: AuthServerSettings
    node: NodeSettings
    witness: WitnessSettings
    demo: DemoSettings
    rollup: RollupSettings
    credentials: CredentialsSettings
    sync: SyncSettings
    workbench: WorkbenchSettings
    mappings: MappingsSettings
    document: Mapping[str, Any]
    source: str | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, Any], source: str | None = None) -> Settings:
        """The tree of a document `load_config` has validated and filled with defaults."""
        sections: dict[str, Any] = {
            name: _built(kind, document.get(name, {})) for name, kind in SECTIONS.items()
        }
        limits = _limits(document.get("limits", {}))
        return cls(**sections, limits=limits, document=document, source=source)

    def section(self, name: str) -> dict[str, Any]:
        """One table of the document as validated (a copy), for keys without a typed field."""
        return json.loads(json.dumps(self.document.get(name, {})))

    @property
    def registries(self) -> list[dict[str, Any]]:
        """The federation's registries: plain dicts, shaped as docs/registry-api.md says."""
        return [dict(r) for r in self.document.get("registries", [])]

    @property
    def issuers(self) -> list[dict[str, Any]]:
        return [dict(i) for i in self.document.get("issuers", [])]

    def redacted(self) -> dict[str, Any]:
        """The document with secrets and URL passwords replaced, for printing."""
        return _redact(self.document)

    def summary(self) -> str:
        s, rl, tracing = self.server, self.rate_limits, self.tracing
        limits = "off"
        if rl.enabled:
            where = "redis" if rl.redis_url else "memory"
            limits = f"{where}, anonymous {rl.anonymous.rate}/s, "
            limits += f"authenticated {rl.authenticated.rate}/s"
        return "\n".join(
            [
                f"server: {s.host}:{s.port}, production {s.production}, logs {s.log_format}",
                f"store: {_safe_url(self.store.db or '(demo database)')}",
                f"rate limits: {limits}",
                f"metrics: {'on' if self.metrics.enabled else 'off'}, "
                f"tracing: {tracing.exporter if tracing.enabled else 'off'}",
                f"issuers: {len(self.issuers)}, registries: {len(self.registries)}",
            ]
        )


def _built(kind: type[T], table: Mapping[str, Any]) -> T:
    """A section's dataclass from its validated table; an unset optional key is None.

    Nested sections (`rate_limits.anonymous`) are built the same way; lists
    become tuples, so the tree stays frozen all the way down.
    """
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for f in fields(kind):  # type: ignore[arg-type]
        value = table.get(f.name)
        hint = hints[f.name]
        if isinstance(hint, type) and is_dataclass(hint):
            value = _built(hint, value or {})
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return kind(**values)


def _limits(table: Mapping[str, Any]) -> Limits:
    """`[limits]` as the endpoint's `Limits`; `weights` add to the built-in weights."""
    values = dict(table)
    weights = values.pop("weights", {})
    return Limits(**values, weights={**DEFAULT_WEIGHTS, **weights})


def load_config(
    path: str | Path | None,
    environ: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """The settings from `path` (None: defaults only), `environ` and `overrides`.

    `overrides` maps dotted keys (`server.port`) to values, as command-line flags
    give them. Raises `ConfigError` listing every problem found.
    """
    rules = schema()
    errors: list[str] = []
    document: dict[str, Any] = {}
    if path is not None:
        document = _read(Path(path))
    for key, raw in _environment(rules, environ, errors):
        _set(document, key, raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(document, key, value)
    document = _with_defaults(rules, rules, document)
    validator = Draft202012Validator(rules)
    errors += [_describe(error) for error in validator.iter_errors(document)]
    if errors:
        raise ConfigError(errors)
    errors += _semantic_errors(document, environ)
    if errors:
        raise ConfigError(errors)
    return Settings.from_document(document, str(path) if path is not None else None)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not TOML: {exc}"]) from None


def _environment(
    rules: dict[str, Any], environ: Mapping[str, str], errors: list[str]
) -> list[tuple[str, Any]]:
    """(dotted key, typed value) per variable naming a key: old names first, so new ones win."""
    old: list[tuple[str, Any]] = []
    new: list[tuple[str, Any]] = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name == CONFIG_ENV:
            continue
        key = LEGACY_ENV.get(name)
        found = old
        if key is None:
            key, found = _key_of(rules, rules["properties"], name.removeprefix(PREFIX)), new
        if key is None:
            section = _section_named(rules, name.removeprefix(PREFIX))
            if section is not None:
                errors.append(f"{name}: names no key of [{section}]")
            continue  # otherwise another tool's variable (ROBOPASS_TEST_POSTGRES, ...)
        try:
            found.append((key, _typed(rules, key, environ[name])))
        except ValueError as exc:
            errors.append(f"{key}: {exc} (from {name})")
    return old + new


def _section_named(rules: dict[str, Any], rest: str) -> str | None:
    """The object section a variable's tail starts with, for a typo's error message."""
    for name, node in rules["properties"].items():
        if node.get("type") == "object" and rest.startswith(name.upper() + "_"):
            return name
    return None


def _key_of(rules: dict[str, Any], node: dict[str, Any], rest: str) -> str | None:
    """The dotted key a variable's tail names (`RATE_LIMITS_ANONYMOUS_RATE`), or None."""
    for name in sorted(node, key=len, reverse=True):
        upper = name.upper()
        if rest == upper:
            return name if _leaf(rules, node[name]) else None
        if rest.startswith(upper + "_"):
            child = _resolve(rules, node[name])
            if child.get("type") == "object" and "properties" in child:
                inner = _key_of(rules, child["properties"], rest[len(upper) + 1 :])
                return f"{name}.{inner}" if inner else None
    return None


def _resolve(rules: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return rules["$defs"][ref.rsplit("/", 1)[1]]
    return node


def _leaf(rules: dict[str, Any], node: dict[str, Any]) -> bool:
    return _resolve(rules, node).get("type") != "object"


def _typed(rules: dict[str, Any], key: str, raw: str) -> Any:
    """An environment string as the schema types `key`."""
    node: dict[str, Any] = rules
    for part in key.split("."):
        node = _resolve(rules, node)["properties"][part]
    kind = _resolve(rules, node).get("type")
    text = raw.strip()
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"must be an integer, not {raw!r}") from None
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"must be a number, not {raw!r}") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"must be a boolean (true/false, 1/0, yes/no, on/off), not {raw!r}")
    if kind == "array":
        return [item.strip() for item in text.split(",") if item.strip()]
    return raw


def _set(document: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return  # the schema reports the section's wrong type
    node[last] = value


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: ValidationError) -> str:
    """`key: reason` in the operator's words, not the validator's."""
    key = _path(error.absolute_path)
    # Errors from validation carry all three; only a hand-made error leaves them unset.
    v = str(error.validator)
    value: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if v == "required":
        missing = error.message.split("'")[1]
        return f"{_path([*error.absolute_path, missing])}: is required"
    if v == "additionalProperties" and isinstance(error.instance, dict):
        extra = [k for k in error.instance if k not in schema.get("properties", {})]
        if schema.get("properties") is not None:
            return "; ".join(f"{_path([*error.absolute_path, k])}: unknown key" for k in extra)
    reasons = {
        "minimum": lambda: f"must be >= {value}",
        "maximum": lambda: f"must be <= {value}",
        "exclusiveMinimum": lambda: f"must be > {value}",
        "type": lambda: (
            f"must be {'an' if value in ('integer', 'array', 'object') else 'a'} "
            f"{value}, not {json.dumps(error.instance)}"
        ),
        "enum": lambda: f"must be one of {', '.join(json.dumps(x) for x in value)}",
        "pattern": lambda: (
            (f"must be {schema['title']}" if "title" in schema else f"must match {value}")
            + f", not {json.dumps(error.instance)}"
        ),
        "minItems": lambda: f"must have at least {value} item{'s' if value != 1 else ''}",
        "minLength": lambda: "must not be empty",
        "uniqueItems": lambda: "must not repeat an item",
    }
    reason = reasons.get(v, lambda: error.message)()
    return f"{key or '(top level)'}: {reason}"


def _with_defaults(rules: dict[str, Any], node: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults filled into its objects (not into lists)."""
    node = _resolve(rules, node)
    if node.get("type") != "object" or not isinstance(value, dict):
        return value
    filled = dict(value)
    for name, child in node.get("properties", {}).items():
        if name not in filled and "default" in child:
            filled[name] = json.loads(json.dumps(child["default"]))
        if name in filled:
            filled[name] = _with_defaults(rules, child, filled[name])
    return filled


def _semantic_errors(document: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """What a schema cannot say: unique ids, http issuers, secrets that must be set."""
    errors: list[str] = []
    seen: dict[str, int] = {}
    for i, registry in enumerate(document.get("registries", [])):
        if registry["id"] in seen:
            first = seen[registry["id"]]
            errors.append(f"registries[{i}].id: {registry['id']!r} repeats registries[{first}]")
        seen.setdefault(registry["id"], i)
    for i, issuer in enumerate(document.get("issuers", [])):
        if issuer["issuer"].startswith("http://") and not issuer.get("allow_http"):
            errors.append(f"issuers[{i}].issuer: must be https:// (or set allow_http = true)")
        secret = issuer.get("introspection", {}).get("client_secret_env")
        if secret and not environ.get(secret):
            errors.append(f"issuers[{i}].introspection.client_secret_env: {secret} is not set")
        jwks = issuer.get("jwks_file")
        if jwks and not Path(jwks).expanduser().is_file():
            errors.append(f"issuers[{i}].jwks_file: no file {jwks}")
    return errors


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{REDACTED}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_KEY.search(key):
            return REDACTED
        return _safe_url(value) if "://" in value else value
    return value
