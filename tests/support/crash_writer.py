"""A writer process of the crash test (`tests/gateway/store/test_crash.py`).

`python -m tests.support.crash_writer DB WRITER COUNT CODE...` appends COUNT maintenance
events over the given robots, each under the key `wWRITER-I` with a payload that
depends only on the key, so a rerun repeats exactly the same requests. After
each append has committed it prints `key code sequence hash`: the acknowledgement
a client would have received.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from gateway.store.open import open_store
from schema.codec import to_plain
from schema.events import EventType
from schema.passport import MaintenanceKind, MaintenanceRecord

AT = datetime(2026, 10, 30, 8, tzinfo=UTC)


def payload(writer: int, i: int) -> dict:
    return to_plain(
        MaintenanceRecord(
            AT, MaintenanceKind.INSPECTION, "left_knee", None, f"writer {writer}", float(i), None
        )
    )


def main(argv: list[str]) -> int:
    db, writer, count, *codes = argv
    store = open_store(db)
    for i in range(int(count)):
        code = codes[(int(writer) + i) % len(codes)]
        key = f"w{writer}-{i}"
        event = store.append(
            code,
            EventType.MAINTENANCE_RECORDED,
            payload(int(writer), i),
            AT,
            idempotency_key=key,
        )
        print(key, event.code, event.sequence, event.hash, flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
