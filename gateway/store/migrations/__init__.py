"""Versioned schema migrations of the registry store: numbered SQL files per dialect.

`NNNN_name.sql` files in `sqlite/` and `postgresql/` are applied in order, each
in its own transaction, and recorded in `store_migrations`. A database that has
a version this code does not know was written by newer code: the store refuses
it rather than guess what the newer schema means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

TABLE = (
    "CREATE TABLE IF NOT EXISTS store_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
CURRENT = "SELECT MAX(version) FROM store_migrations"
RECORD = "INSERT INTO store_migrations (version, name, applied_at) VALUES (?, ?, ?)"

FILE_NAME = re.compile(r"(\d{4})_(\w+)\.sql")


class MigrationError(Exception):
    """The migrations on disk or in the database cannot be applied."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def parse(files: dict[str, str]) -> list[Migration]:
    """Migrations from file name -> text, in order; numbers must run 1, 2, 3, ..."""
    found = []
    for name, sql in files.items():
        match = FILE_NAME.fullmatch(name)
        if match is None:
            raise MigrationError(f"{name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1, 2, 3, ...: found {versions}")
    return found


def available(dialect: str) -> list[Migration]:
    """The migrations shipped with this code for one dialect."""
    folder = resources.files(__name__) / dialect
    files = {f.name: f.read_text("utf-8") for f in folder.iterdir() if f.name.endswith(".sql")}
    return parse(files)


def check_supported(applied: int, known: list[Migration]) -> None:
    latest = known[-1].version if known else 0
    if applied > latest:
        raise MigrationError(
            f"the database is at schema version {applied}, newer than this code's {latest}:"
            " upgrade robopass"
        )


TOKEN = re.compile(r"--[^\n]*|;|\$(?:[A-Za-z_]\w*)?\$")
"""What `statements` looks for: a comment, a `;`, the tag opening a dollar-quoted body."""


def statements(sql: str) -> list[str]:
    """Split a migration into statements: `--` comments dropped, `;` ends a statement.

    A dollar-quoted body (`$$ ... $$`, `$tag$ ... $tag$`: a `DO` block, a
    function) is kept whole, `;` and all, so a migration can guard a change
    with a condition. Our migration files keep `;` and `--` out of string
    literals, which is what makes this enough.
    """
    found: list[str] = []
    current: list[str] = []
    at = 0
    while (token := TOKEN.search(sql, at)) is not None:
        current.append(sql[at : token.start()])
        at = token.end()
        if token[0] == ";":
            found.append("".join(current))
            current = []
        elif token[0].startswith("$"):
            end = sql.find(token[0], at)
            if end < 0:
                raise MigrationError(f"a body opened with {token[0]} is never closed")
            current.append(sql[token.start() : end + len(token[0])])
            at = end + len(token[0])
    found.append("".join([*current, sql[at:]]))
    return [s.strip() for s in found if s.strip()]
