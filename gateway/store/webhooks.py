"""Webhooks in the registry store: endpoints, the queue of deliveries and their log.

A webhook follows the change feed (gap-free positions, docs/architecture.md
"The change feed") for the robots its owner owns now, and queues one delivery
per campaign event. Queuing and moving the webhook's position happen in one
transaction, so an event is queued exactly once however often `enqueue` runs.
A delivery keeps its message id on every attempt; the sender records each
attempt's outcome and when to try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.store.sql import EVENT_COLUMNS, Db, row_event, with_limit
from schema.codec import format_datetime, parse_datetime
from schema.events import Event, EventType

CAMPAIGN_EVENTS = (EventType.RECALL_ISSUED, EventType.UPDATE_MANDATED, EventType.RECALL_REMEDIED)


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    owner_id: str
    url: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_id: str
    position: int
    message_id: str
    code: str
    body: str
    attempts: int
    next_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None


DELIVERY_COLUMNS = (
    "webhook_id, position, message_id, code, body, attempts, next_at, delivered_at,"
    " last_status, last_error"
)


class WebhookStore:
    """Webhook methods of `Store` (a mixin: the store brings the connection)."""

    registry: str
    _write: Callable[..., Any]
    _reading: Callable[..., Any]

    def add_webhook(self, id: str, owner_id: str, url: str, secret: str, now: datetime) -> Webhook:
        """A new endpoint; it hears of events from now on (the feed's current end)."""

        def work(db: Db) -> None:
            (head,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
            db.execute(
                "INSERT INTO webhooks (id, owner_id, url, secret, after, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (id, owner_id, url, secret, head, format_datetime(now)),
            )

        self._write(work)
        return Webhook(id, owner_id, url, now)

    def webhooks(self, owner_id: str | None = None) -> list[Webhook]:
        sql = "SELECT id, owner_id, url, created_at FROM webhooks"
        params: list[Any] = []
        if owner_id is not None:
            sql, params = sql + " WHERE owner_id = ?", [owner_id]
        with self._reading() as db:
            rows = db.execute(sql + " ORDER BY id", params).fetchall()
        return [Webhook(i, o, u, parse_datetime(c)) for i, o, u, c in rows]

    def webhook_secret(self, id: str) -> str | None:
        with self._reading() as db:
            row = db.execute("SELECT secret FROM webhooks WHERE id = ?", (id,)).fetchone()
        return row[0] if row else None

    def delete_webhook(self, id: str, owner_id: str) -> bool:
        def work(db: Db) -> bool:
            gone = db.execute("DELETE FROM webhooks WHERE id = ? AND owner_id = ?", (id, owner_id))
            if gone.rowcount:
                db.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (id,))
            return gone.rowcount > 0

        return self._write(work)

    def enqueue(
        self, id: str, render: Callable[[Event], str], now: datetime, limit: int = 500
    ) -> int:
        """Queue the campaign events of the owner's robots after the webhook's position."""

        def work(db: Db) -> int:
            found = db.execute(
                "SELECT owner_id, after FROM webhooks WHERE id = ?", (id,)
            ).fetchone()
            if found is None:
                return 0
            owner, after = found
            columns = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
            marks = ", ".join("?" * len(CAMPAIGN_EVENTS))
            # The owner every event carries (`sql.FEED_OWNER`): a range of the owner's
            # events from the webhook's position, not the whole feed joined to robots.
            sql = (
                f"SELECT e.position, {columns} FROM events e"
                f" WHERE e.owner_id = ? AND e.position > ? AND e.type IN ({marks})"
                " ORDER BY e.position"
            )
            params = [owner, after, *(t.value for t in CAMPAIGN_EVENTS)]
            rows = db.execute(*with_limit(sql, params, limit)).fetchall()
            (head,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
            for row in rows:
                event = row_event(row[1:])
                db.execute(
                    f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, 0, ?, NULL, NULL, NULL)",
                    (
                        id,
                        row[0],
                        f"msg_{self.registry}_{row[0]}",
                        event.code,
                        render(event),
                        _micros(now),
                    ),
                )
            moved = rows[-1][0] if len(rows) == limit else head
            db.execute("UPDATE webhooks SET after = ? WHERE id = ?", (moved, id))
            return len(rows)

        return self._write(work)

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """Undelivered deliveries whose next attempt is due, oldest first (`next_at` is in
        integer microseconds, so it compares as a number in both dialects)."""
        sql = (
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries"
            " WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, position"
        )
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, [_micros(now)], limit)).fetchall()
        return [_delivery(r) for r in rows]

    def deliveries(self, webhook_id: str, limit: int = 100) -> list[Delivery]:
        """The delivery log of one webhook, newest first."""
        sql = (
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?"
            " ORDER BY position DESC"
        )
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, [webhook_id], limit)).fetchall()
        return [_delivery(r) for r in rows]

    def record_attempt(
        self,
        webhook_id: str,
        position: int,
        *,
        status: int | None,
        error: str | None,
        delivered_at: datetime | None,
        next_at: datetime | None,
    ) -> None:
        """One attempt's outcome: delivered, or when to try again (None: given up)."""

        def work(db: Db) -> None:
            db.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?,"
                " last_error = ?, delivered_at = ?, next_at = ?"
                " WHERE webhook_id = ? AND position = ?",
                (
                    status,
                    error,
                    format_datetime(delivered_at) if delivered_at else None,
                    _micros(next_at) if next_at else None,
                    webhook_id,
                    position,
                ),
            )

        self._write(work)


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _delivery(row: tuple[Any, ...]) -> Delivery:
    webhook, position, message, code, body, attempts, next_at, delivered, status, error = row
    return Delivery(
        webhook,
        position,
        message,
        code,
        body,
        attempts,
        datetime.fromtimestamp(next_at / 1e6, UTC) if next_at is not None else None,
        parse_datetime(delivered) if delivered else None,
        status,
        error,
    )
