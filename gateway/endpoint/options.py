"""How the GraphQL endpoint answers: one typed options object instead of a keyword list.

Everything here shapes answers (limits, the deny mode, which documents run,
what production hides, whether answers are kept); nothing here is a service
the endpoint talks to (those are `gateway.service.services.Services`). The
defaults are the programmatic ones; `gateway.web.serving.graphql_options`
fills them from the validated configuration instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.endpoint.limits import Limits
from gateway.endpoint.persisted import PersistedQueries

ON_DENIED = ("null", "reject")


@dataclass(frozen=True, slots=True)
class GraphQLOptions:
    """The endpoint's options.

    `on_denied` "null" answers a denied field with null and an error; "reject"
    fails the whole operation instead (a caller may ask for the stricter mode
    per request, never the looser). `limits` bound each request; `persisted`
    resolves hashed documents (APQ, or a safelist: None is APQ). `production`
    turns introspection, the console and suggestions off and masks internal
    errors; `introspection` and `console`, when set, override it either way.
    `response_cache` keeps single-robot answers where that is safe (a policy,
    an audit log, a source whose feed vouches for its cache, no tracing).
    `example_code` fills the console's first query; `feed_poll_seconds` paces
    subscriptions' polls. `compiled` answers known single-robot queries through
    compiled plans (`gateway.endpoint.compiled`) instead of strawberry (same
    answers, held to it by a differential test).
    """

    on_denied: str = "null"
    limits: Limits = field(default_factory=Limits)
    persisted: PersistedQueries | None = None
    production: bool = False
    introspection: bool | None = None
    console: bool | None = None
    response_cache: bool = True
    example_code: str | None = None
    feed_poll_seconds: float = 0.25
    compiled: bool = True

    def __post_init__(self) -> None:
        if self.on_denied not in ON_DENIED:
            choices = ", ".join(ON_DENIED)
            raise ValueError(f"on_denied must be one of {choices}, not {self.on_denied!r}")

    @property
    def shows_introspection(self) -> bool:
        return not self.production if self.introspection is None else self.introspection

    @property
    def shows_console(self) -> bool:
        return not self.production if self.console is None else self.console
