"""What the gateway talks to, held once: every surface reads its parts from one `Services`.

The application factory, the GraphQL endpoint, downloads, bulk export, the
report pages and the AAS API each take this one object rather than a keyword
list, so a part (the token verifier, the audit log) is handed over once and
cannot reach one surface and miss another. It is also the one place a
`RequestContext` is made (`context`), so every surface decides, masks and
audits alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from adapters.mapengine import RunsMapping
from gateway.credentials.signing import RegistrySigner
from gateway.edge.ratelimit import RateLimits
from gateway.ops.metrics import Metrics
from gateway.service.auditwitness import AuditWitnessing
from gateway.service.campaigns import Campaigns
from gateway.service.context import RequestContext
from gateway.service.passport_vc import Issuer
from gateway.service.webhooks import WebhookBackend, Webhooks
from gateway.service.writes import Writes
from gateway.store.webhooks import WebhookStore
from policies import PUBLIC, AuditLog, PolicySet, Principal, TokenVerifier
from schema.campaign_source import CampaignBackend, CampaignRegistry
from schema.source import PassportSource, PassportWriter, RequestScoped


@dataclass(frozen=True, slots=True)
class Services:
    """The source and the parts around it.

    `policy` None serves every field to everyone (trusted mode): it has no
    default, so a caller chooses it in plain sight. Without a `verifier`
    every request is the public principal and any token is refused. `audit`
    receives a record of every disclosure and write; without it, or without
    a policy, nothing is recorded. `writer` enables the mutations (without
    it they answer WRITES_UNAVAILABLE). With a `signer`, exports can be
    downloaded signed and its public keys are served; with
    `credentials` (an `Issuer` over that signer) owners are issued SD-JWT VCs and
    the status list is served. `metrics` serves
    /metrics and counts requests, errors, denials and refusals;
    `rate_limits` charges each caller's bucket (429 over it); `tracing`, an
    OpenTelemetry tracer provider, adds spans (the `otel` extra).
    `campaign_registry` keeps recalls and mandates (the store of an embedded
    registry, or the federation's nodes: gateway/federation/campaigns.py);
    without it the campaign mutations answer WRITES_UNAVAILABLE.
    `webhook_store` keeps owners' webhooks; `production` refuses webhook URLs
    that point at loopback or private addresses. `mappings` are the mapping
    documents served as export formats, compiled, by id. `audit_witnessing` has the
    audit log's checkpoints cosigned while the app runs.
    """

    source: PassportSource
    policy: PolicySet | None
    _: KW_ONLY
    verifier: TokenVerifier | None = None
    audit: AuditLog | None = None
    writer: PassportWriter | None = None
    signer: RegistrySigner | None = None
    metrics: Metrics | None = None
    rate_limits: RateLimits | None = None
    tracing: Any = None
    credentials: Issuer | None = None
    campaign_registry: CampaignRegistry | CampaignBackend | None = None
    webhook_store: WebhookStore | WebhookBackend | None = None
    production: bool = False
    mappings: Mapping[str, RunsMapping] = field(default_factory=dict)
    audit_witnessing: AuditWitnessing | None = None
    writes: Writes = field(init=False, repr=False, compare=False)
    campaigns: Campaigns = field(init=False, repr=False, compare=False)
    webhooks: Webhooks = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        writes = Writes(self.source, self.writer, self.policy, self.audit)
        object.__setattr__(self, "writes", writes)
        campaigns = Campaigns(self.campaign_registry, writes, self.policy)
        object.__setattr__(self, "campaigns", campaigns)
        webhooks = Webhooks(self.webhook_store, self.policy, self.production)
        object.__setattr__(self, "webhooks", webhooks)

    def context(
        self,
        principal: Principal = PUBLIC,
        request: Any = None,
        *,
        surface: str = "graphql",
        batched: bool = False,
    ) -> RequestContext:
        """What one request of `principal` carries; the only place one is made.

        `surface` labels its denials in the metrics ("graphql", "export", ...).
        `batched` gives the request its own view of the source, where a
        federation batches that request's single-robot reads per registry.
        """
        source = request_source(self.source) if batched else self.source
        return RequestContext(
            source,
            principal,
            self.policy,
            request,
            self.audit,
            self.writes,
            metrics=self.metrics,
            campaigns=self.campaigns,
            webhooks=self.webhooks,
            surface=surface,
            credentials=self.credentials,
            mappings=self.mappings,
        )


def request_source(source: PassportSource) -> PassportSource:
    """The source as one request uses it: a federation batches that request's robot reads.

    A local store has no such scope and is used as it is.
    """
    return source.request_scope() if isinstance(source, RequestScoped) else source
