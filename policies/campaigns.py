"""Who may issue, exempt and count which campaigns, as tables and pure functions.

Issuing (`ISSUERS`): a manufacturer recalls or mandates updates for the
robots it made, and only those (its selector is narrowed to its own party
identifier, wherever the robots are); an authority reaches the robots of its
own jurisdiction: those registered in its country (the whole of its registry)
and those whose current owner is there now, wherever registered. So a German
authority's campaign at the Chinese registry reaches the Chinese robots held in
Germany and no other. A refusal is `FORBIDDEN` with the rule that failed, as for
every other write.

Reading counts (`count_scope`): everyone who may see a campaign sees its
totals; the breakdown by owner country is the issuer's and its country's
authorities', another country's authority sees its own country's row only;
counts by owner (a party identifier is PERSONAL) are shown to a regulator of the
issuer's country, and to an owner for its own robots only.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from schema.campaigns import Campaign, CampaignKind, Selector
from schema.writes import WriteForbidden

from .principal import AUTHORITIES, Principal, Role


class Reach(enum.Enum):
    OWN_PRODUCTS = "own_products"
    """The robots the issuer made (`manufacturer_id` is the issuer's)."""
    JURISDICTION = "jurisdiction"
    """Robots registered in the issuer's country or owned there now."""


K = CampaignKind
ISSUERS: dict[tuple[Role, CampaignKind], Reach] = {
    (Role.MANUFACTURER, K.RECALL): Reach.OWN_PRODUCTS,
    (Role.MANUFACTURER, K.MANDATED_UPDATE): Reach.OWN_PRODUCTS,
    (Role.REGULATOR, K.RECALL): Reach.JURISDICTION,
    (Role.REGULATOR, K.MANDATED_UPDATE): Reach.JURISDICTION,
    (Role.REGULATOR, K.END_OF_LIFE): Reach.JURISDICTION,
    (Role.MARKET_SURVEILLANCE, K.RECALL): Reach.JURISDICTION,
    (Role.MARKET_SURVEILLANCE, K.MANDATED_UPDATE): Reach.JURISDICTION,
}

EXEMPTING = frozenset({Role.REGULATOR, Role.MARKET_SURVEILLANCE})
"""Authorities that may exempt robots of a campaign they or their country's peers issued."""


def _forbidden(rule: str, message: str) -> WriteForbidden:
    return WriteForbidden(rule, None, message)


def scoped_selector(principal: Principal, kind: CampaignKind, selector: Selector) -> Selector:
    """The selector narrowed to what the issuer may reach, or `WriteForbidden`."""
    reach = ISSUERS.get((principal.role, kind))
    if reach is None:
        raise _forbidden(
            "campaigns.table", f"a {principal.role.value} may not issue a {kind.value} campaign"
        )
    if reach is Reach.OWN_PRODUCTS:
        own = principal.organisation_id
        if own is None:
            raise _forbidden("campaigns.organisation", "the token names no organisation_id")
        if selector.manufacturer_id not in (None, own):
            raise _forbidden("campaigns.own_products", "a manufacturer reaches its own robots only")
        if selector.owner_countries:
            # Which robots a campaign reaches is public (their recall events, the totals):
            # a selector over the owner's country, narrowed to one robot by its sequence,
            # would tell a maker where a robot is held, which its view of owners may hide.
            raise _forbidden(
                "campaigns.owner_country",
                "a manufacturer's selector may not name owners' countries: a campaign's reach"
                " is public and would tell where each robot is held; ask the authority there",
            )
        return dataclasses.replace(selector, all=False, manufacturer_id=own)
    country = principal.jurisdiction
    if country is None:
        raise _forbidden("campaigns.jurisdiction", "the token names no jurisdiction")
    if selector.jurisdiction not in (None, country):
        raise _forbidden(
            "campaigns.jurisdiction", f"an authority of {country} reaches its own jurisdiction only"
        )
    return dataclasses.replace(selector, all=False, jurisdiction=country)


def may_exempt(principal: Principal, campaign: Campaign) -> bool:
    """The issuing organisation, or an authority of the issuer's country with the power to."""
    if principal.organisation_id is not None and (
        principal.organisation_id == campaign.issuer.organisation_id
    ):
        return True
    return principal.role in EXEMPTING and principal.jurisdiction == campaign.issuer.jurisdiction


@dataclass(frozen=True, slots=True)
class CountScope:
    """Which parts of a campaign's counts a caller may see.

    `countries` None is every country, an empty set none (totals only);
    `owners` "all", "own" (rows of the caller's own party id) or "none".
    """

    countries: frozenset[str] | None
    owners: str


def count_scope(principal: Principal, campaign: Campaign) -> CountScope:
    home = principal.jurisdiction == campaign.issuer.jurisdiction
    issuer = principal.organisation_id is not None and (
        principal.organisation_id == campaign.issuer.organisation_id
    )
    if principal.role is Role.REGULATOR and home:
        return CountScope(None, "all")
    if (principal.role in AUTHORITIES and home) or issuer:
        return CountScope(None, "none")
    if principal.role in AUTHORITIES and principal.jurisdiction is not None:
        return CountScope(frozenset({principal.jurisdiction}), "none")
    if principal.role is Role.OWNER and principal.organisation_id is not None:
        return CountScope(frozenset(), "own")
    return CountScope(frozenset(), "none")
