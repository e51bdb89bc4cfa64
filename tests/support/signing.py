"""The parts of a compact JWS, read as a verifier outside robopass would."""

from __future__ import annotations

import base64
import json


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict, dict]:
    h, p, _ = token.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p))
