"""`Robot.campaigns`: the campaigns that reached one robot and its state under each.

Apart from schema/graphql/campaigns.py so that the robot type can import it
without importing the campaign roots (which import the robot type).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from ..campaigns import CampaignKind, RobotState, shown_state
from .objects import graphql_enum

graphql_enum(CampaignKind)
graphql_enum(RobotState)


@strawberry.type(description="A campaign as it stands for one robot.")
class RobotCampaign:
    campaign_id: str = strawberry.field(description="The campaign's id.")
    kind: CampaignKind = strawberry.field(description="RECALL, MANDATED_UPDATE or END_OF_LIFE.")
    title: str = strawberry.field(description="The campaign's title.")
    deadline: date | None = strawberry.field(description="Last day to comply.")
    state: RobotState = strawberry.field(
        description="PENDING, REMEDIED, OVERDUE (pending after the deadline) or EXEMPTED."
    )
    reason: str | None = strawberry.field(
        description="Why it is exempted; null unless the caller may see the owner."
    )


async def robot_campaigns(context: Any, code: str, reasons: bool) -> list[RobotCampaign]:
    """The robot's campaigns, oldest first; none where the gateway keeps no campaigns.

    An exemption's reason may tell of the owner's affairs: it is shown only with
    `reasons` (callers who may see the owner), the state to everyone who sees recalls.
    """
    now = context.now()
    return [
        RobotCampaign(
            campaign_id=c.id,
            kind=c.kind,
            title=c.title,
            deadline=c.deadline,
            state=shown_state(c, row.state, now),
            reason=row.reason if reasons else None,
        )
        for c, row in await context.robot_campaigns(code)
    ]
