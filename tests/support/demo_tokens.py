"""Tokens for the demo parties and a served gateway to ask with them: the owner, its
identifier, and the robot it owns.
"""

from __future__ import annotations

import sqlite3

import httpx

from policies.authserver import issue_token, load_clients

QUERY = """query ($code: RobotCode!) { robot(code: $code) {
  code manufacturer { name } maintenance { performedBy } ownership { owner jurisdiction }
  incidents { findings } condition { batteryHealthPct } } }"""


OWNER = "Zhulong Sales & Leasing Co., Ltd."


OWNER_ID = load_clients()["fleet-owner"].organisation_id


def ask(base: str, code: str, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        f"{base}/graphql", json={"query": QUERY, "variables": {"code": code}}, headers=headers
    )


def owned_robot(tmp_path) -> str:
    """A robot of the demo fleet owner in the served registry."""
    db = sqlite3.connect(tmp_path / "data" / "demo-cn.db")
    try:
        found = db.execute("SELECT code FROM robots WHERE owner_id = ? LIMIT 1", (OWNER_ID,))
        return found.fetchone()[0]
    finally:
        db.close()


def token_for(client: str, base: str, tmp_path) -> str:
    return issue_token(client, tmp_path / "data", f"{base}/auth")
