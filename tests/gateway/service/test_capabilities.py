"""Optional capabilities of sources and writers, as the gateway detects them.

A capability is a runtime-checkable Protocol (`schema.source`): renaming a
method of a source silently turns its capability off, so each source's set is
pinned here.
"""

from __future__ import annotations

from gateway.federation.batching import RequestSource
from gateway.federation.source import FederatedSource
from gateway.service.context import RequestContext
from gateway.service.local import LocalSource
from gateway.store import SqliteStore
from schema import source as contract
from schema.graphql.context import PartialAnswers, PolledFeed

CAPABILITIES = (
    contract.ConditionIngest,
    contract.DecodedCache,
    contract.FeedFollowing,
    contract.FeedHead,
    contract.FeedSignal,
    contract.IdempotencyLookup,
    contract.PendingOffers,
    contract.ReadHeads,
    contract.RegistryDirectory,
    contract.RequestScoped,
    contract.RobotCodes,
    contract.TelemetrySource,
    contract.Vouching,
)


def capabilities(obj: object) -> set[str]:
    return {c.__name__ for c in CAPABILITIES if isinstance(obj, c)}


def test_a_local_store_has_what_one_registry_in_process_can_do(tmp_path) -> None:
    source = LocalSource(SqliteStore(tmp_path / "r.db"))
    assert capabilities(source) == {
        "ConditionIngest",
        "DecodedCache",
        "FeedFollowing",
        "FeedHead",
        "FeedSignal",
        "IdempotencyLookup",
        "PendingOffers",
        "RobotCodes",
        "TelemetrySource",
    }


def test_a_federation_and_its_request_scope_have_what_registry_nodes_allow() -> None:
    federation = FederatedSource([])
    assert capabilities(federation) == {
        "ConditionIngest",
        "FeedFollowing",
        "RegistryDirectory",
        "RequestScoped",
        "Vouching",
    }
    scoped = federation.request_scope()
    assert isinstance(scoped, RequestSource)
    assert capabilities(scoped) == {"ReadHeads", "RegistryDirectory"}


def test_the_gateway_context_answers_partial_errors_and_sets_the_feed_poll(tmp_path) -> None:
    context = RequestContext(LocalSource(SqliteStore(tmp_path / "r.db")))
    assert isinstance(context, PartialAnswers)
    assert isinstance(context, PolledFeed)
    assert not isinstance(object(), PartialAnswers)
    assert not isinstance(object(), PolledFeed)
