"""Configuration: TOML file, environment overrides, schema errors by key, CLI, a real server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
import time
import tomllib
import typing
from pathlib import Path

import httpx
import pytest

from gateway.config.sections import SECTIONS, BucketSettings
from gateway.config.settings import ConfigError, Settings, load_config, schema
from gateway.endpoint.limits import Limits
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app
from gateway.web.serving import graphql_options, rate_limits, trusted_issuers
from policies import PolicySet, TokenVerifier
from policies.authserver import DEFAULT_AUDIENCE, issue_token, signing_key
from tests.support.cli_process import ROOT, robopass
from tests.support.ports import free_port
from tests.support.processes import Server

REGISTRY_API = ROOT / "docs" / "registry-api.md"


def write(tmp_path: Path, text: str, name: str = "robopass.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path | None, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return caught.value.errors


def test_defaults_alone_are_the_documented_defaults() -> None:
    settings = load_config(None, {})
    assert settings.limits == Limits()
    assert settings.server.port == 8000 and settings.server.host == "127.0.0.1"
    assert settings.rate_limits.enabled is False
    assert settings.metrics.enabled is True
    assert settings.registries == [] and settings.issuers == []


def test_the_typed_tree_mirrors_the_schema_and_repeats_none_of_its_defaults() -> None:
    """Every key of a typed section is a field and every field a key; a field that may be
    unset has no schema default, one that may not has it: the defaults live in schema.json."""
    rules = schema()

    def check(kind: type, node: dict, where: str) -> None:
        node = rules["$defs"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
        properties = node["properties"]
        hints = typing.get_type_hints(kind)
        assert {f.name for f in dataclasses.fields(kind)} == set(properties), where
        for f in dataclasses.fields(kind):
            assert f.default is dataclasses.MISSING, f"{where}.{f.name} repeats a default"
            hint, child = hints[f.name], properties[f.name]
            if dataclasses.is_dataclass(hint):
                check(hint, child, f"{where}.{f.name}")
            optional = type(None) in typing.get_args(hint)
            assert optional == ("default" not in child), f"{where}.{f.name}"

    for name, kind in SECTIONS.items():
        check(kind, rules["properties"][name], name)
    typed = {f.name for f in dataclasses.fields(Settings)} - {"document", "source"}
    objects = {k for k, v in rules["properties"].items() if v.get("type") == "object"}
    assert typed == objects


def test_settings_are_typed_frozen_and_unset_keys_are_none(tmp_path) -> None:
    settings = load_config(None, {})
    assert settings.store.db is None and settings.tracing.endpoint is None
    assert settings.server.console is None and settings.persisted.safelist is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.server.port = 1  # type: ignore[misc]
    text = "[store]\ndb = 'x.db'\n[tracing]\nendpoint = 'http://otel:4318'\n"
    path = write(tmp_path, text + "[server]\nconsole = false\n")
    settings = load_config(path, {})
    assert settings.store.db == "x.db" and settings.tracing.endpoint == "http://otel:4318"
    assert settings.server.console is False and settings.server.production is False
    options = graphql_options(settings)
    assert not options.shows_console and options.shows_introspection
    assert options.limits == settings.limits and options.on_denied == settings.server.on_denied


def test_file_then_old_variables_then_new_variables_then_flags(tmp_path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\nhost = '0.0.0.0'\n[limits]\nmax_depth = 7\n")
    assert load_config(path, {}).server.port == 9000
    assert load_config(path, {"ROBOPASS_PORT": "9200"}).server.port == 9200
    both = {"ROBOPASS_PORT": "9200", "ROBOPASS_SERVER_PORT": "9100"}
    assert load_config(path, both).server.port == 9100
    assert load_config(path, both, {"server.port": 9300}).server.port == 9300
    settings = load_config(
        path,
        {
            "ROBOPASS_MAX_DEPTH": "5",
            "ROBOPASS_RATE_LIMITS_ANONYMOUS_BURST": "3",
            "ROBOPASS_RATE_LIMITS_ENABLED": "yes",
            "ROBOPASS_TEST_POSTGRES": "postgresql://elsewhere/test",
        },
    )
    assert settings.limits.max_depth == 5 and settings.server.host == "0.0.0.0"
    anonymous = settings.rate_limits.anonymous
    assert anonymous == BucketSettings(rate=5.0, burst=3), "the rate keeps its default"
    limits = rate_limits(settings)
    assert limits is not None and limits.anonymous.burst == 3


def test_every_error_names_its_key(tmp_path) -> None:
    path = write(
        tmp_path,
        """
[server]
prot = 80
on_denied = "hide"
[limits]
max_depth = 0
timeout = 0
[limits.weights]
"Robot.integrity" = -1
[rate_limits.anonymous]
rate = 0
[[registries]]
id = "cn-heis"
format = "cn-miit"
base_url = "http://127.0.0.1:8101"
countries = ["CN"]
[[registries]]
id = "cn-heis"
format = "xml"
base_url = "ftp://eu.example"
[registries.retry]
attempts = 0
[[issuers]]
issuer = "http://idp.example"
audience = "robopass"
jurisdictions = []
""",
    )
    errors = errors_of(path)
    expected = [
        "server.prot: unknown key",
        'server.on_denied: must be one of "null", "reject"',
        "limits.max_depth: must be >= 1",
        "limits.timeout: must be > 0",
        "limits.weights.Robot.integrity: must be >= 0",
        "rate_limits.anonymous.rate: must be > 0",
        'registries[1].format: must be one of "cn-miit", "aas"',
        "registries[1].base_url: must be an http(s) URL",
        "registries[1].countries: is required",
        "registries[1].retry.attempts: must be >= 1",
        "issuers[0].jurisdictions: must have at least 1 item",
    ]
    for line in expected:
        assert any(e.startswith(line) for e in errors), (line, errors)
    assert len(errors) == len(expected), errors


def test_semantic_errors_after_the_schema(tmp_path) -> None:
    path = write(
        tmp_path,
        """
[[registries]]
id = "cn-heis"
format = "cn-miit"
base_url = "http://127.0.0.1:8101"
countries = ["CN"]
[[registries]]
id = "cn-heis"
format = "aas"
base_url = "http://127.0.0.1:8102"
countries = ["DE"]
[[issuers]]
issuer = "http://idp.example"
audience = "robopass"
jurisdictions = ["DE"]
[issuers.introspection]
endpoint = "https://idp.example/introspect"
client_id = "gw"
client_secret_env = "IDP_SECRET"
""",
    )
    assert errors_of(path) == [
        "issuers[0].introspection.client_secret_env: IDP_SECRET is not set",
        "issuers[0].issuer: must be https:// (or set allow_http = true)",
        "registries[1].id: 'cn-heis' repeats registries[0]",
    ]


def test_bad_files_and_variables_are_named(tmp_path) -> None:
    assert errors_of(tmp_path / "missing.toml")[0].endswith(
        "cannot read: No such file or directory"
    )
    assert "not TOML" in errors_of(write(tmp_path, "[server\n"))[0]
    errors = errors_of(
        None,
        {
            "ROBOPASS_SERVER_PRODUCTION": "maybe",
            "ROBOPASS_PORT": "eighty",
            "ROBOPASS_LIMITS_MAX_DEPHT": "3",
        },
    )
    assert errors == [
        "ROBOPASS_LIMITS_MAX_DEPHT: names no key of [limits]",
        "server.port: must be an integer, not 'eighty' (from ROBOPASS_PORT)",
        "server.production: must be a boolean (true/false, 1/0, yes/no, on/off), "
        "not 'maybe' (from ROBOPASS_SERVER_PRODUCTION)",
    ]


def test_the_registry_api_example_is_a_valid_registries_list(tmp_path) -> None:
    """The contract's TOML example (docs/registry-api.md) passes, and comes out unchanged."""
    text = REGISTRY_API.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert example is not None
    settings = load_config(write(tmp_path, example.group(1)), {})
    assert settings.registries == tomllib.loads(example.group(1))["registries"]
    assert all(type(r) is dict for r in settings.registries)


def test_configured_issuer_is_trusted_for_its_jurisdictions_only(store, tmp_path) -> None:
    key = signing_key(tmp_path)
    jwks = write(tmp_path, json.dumps({"keys": [key.as_dict(private=False)]}), "jwks.json")
    issuer = "https://idp.example"
    path = write(
        tmp_path,
        f"""
[[issuers]]
issuer = "{issuer}"
audience = "{DEFAULT_AUDIENCE}"
jurisdictions = ["DE"]
jwks_file = "{jwks}"
""",
    )
    verifier = TokenVerifier(trusted_issuers(load_config(path, {})))
    app = create_app(Services(LocalSource(store), PolicySet.demo(), verifier=verifier))
    query = {"query": "{ robots(first: 1) { edges { node { code } } } }"}

    async def ask(client_id: str) -> int:
        token = issue_token(client_id, tmp_path, issuer)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            headers = {"authorization": f"Bearer {token}"}
            return (await client.post("/graphql", json=query, headers=headers)).status_code

    assert asyncio.run(ask("fleet-owner")) == 200, "a DE party"
    assert asyncio.run(ask("us-insurer")) == 401, "US is not this issuer's to assert"


@pytest.mark.process
def test_config_check_and_show(tmp_path) -> None:
    good = write(
        tmp_path,
        """
[store]
db = "postgresql://gw:hunter2@db.internal/robopass"
[rate_limits]
enabled = true
redis_url = "redis://:s3cret@cache.internal:6379/0"
[[registries]]
id = "cn-heis"
format = "cn-miit"
base_url = "http://127.0.0.1:8101"
countries = ["CN"]
[registries.credentials]
token_url = "http://127.0.0.1:9000/token"
client_id = "robopass-gateway"
client_secret_env = "ROBOPASS_CN_HEIS_SECRET"
""",
        "good.toml",
    )
    checked = robopass("config", "check", str(good))
    assert checked.returncode == 0, checked.stderr
    out = checked.stdout.decode()
    assert out.startswith(f"OK {good}") and "rate limits: redis" in out and "registries: 1" in out
    assert "hunter2" not in out
    shown = robopass("config", "show", str(good))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert "hunter2" not in text and "s3cret" not in text
    effective = json.loads(text)
    assert effective["store"]["db"] == "postgresql://gw:***@db.internal/robopass"
    assert effective["rate_limits"]["redis_url"] == "redis://:***@cache.internal:6379/0"
    assert effective["limits"]["max_depth"] == 10, "defaults are shown"
    assert effective["registries"][0]["credentials"]["client_secret_env"] == (
        "ROBOPASS_CN_HEIS_SECRET"
    )
    bad = write(tmp_path, "[limits]\nmax_depth = 0\n[server]\nport = 'x'\n", "bad.toml")
    failed = robopass("config", "check", str(bad))
    assert failed.returncode == 2
    assert "limits.max_depth: must be >= 1" in failed.stderr
    assert 'server.port: must be an integer, not "x"' in failed.stderr


@pytest.mark.process
def test_serve_with_a_config_file_rate_limits_logs_and_exposes_metrics(tmp_path) -> None:
    """A real `robopass serve --config FILE`: 429 with Retry-After, JSON logs, /metrics."""
    port = free_port()
    path = write(
        tmp_path,
        f"""
[server]
port = {port}
log_format = "json"
[store]
data_dir = "{tmp_path / "data"}"
robots = 20
[rate_limits]
enabled = true
anonymous = {{ rate = 0.5, burst = 2 }}
""",
    )
    server = Server([sys.executable, "-m", "gateway.cli", "serve", "--config", str(path)], ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_for("Configuration: ")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        query = {"query": "{ robots(first: 1) { totalCount } }"}
        headers = {"x-request-id": "ops-test-1"}
        answers = [httpx.post(f"{base}/graphql", json=query, headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        seconds = int(answers[2].headers["retry-after"])
        assert answers[2].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert answers[2].headers["x-request-id"] == "ops-test-1"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'robopass_http_requests_total{method="POST",route="/graphql",status="200"} 2.0' in (
            metrics
        )
        assert 'robopass_rate_limited_requests_total{caller="anonymous"} 1.0' in metrics
        time.sleep(seconds)
        assert httpx.post(f"{base}/graphql", json=query).status_code == 200
        line = server.wait_for('"status": 429', timeout=10)
    finally:
        server.stop()
    logged = json.loads(line)
    assert logged["request_id"] == "ops-test-1" and logged["route"] == "/graphql"
    assert logged["logger"] == "robopass.access" and logged["principal"] == "anonymous"


def test_the_operations_guide_example_is_valid(tmp_path) -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert example is not None
    settings = load_config(write(tmp_path, example.group(1)), {})
    assert settings.server.demo_auth is False
    assert [i.jurisdictions for i in trusted_issuers(settings)] == [frozenset({"DE"})]
