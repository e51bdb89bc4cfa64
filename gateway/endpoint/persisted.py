"""Persisted queries: Apollo's automatic persisted queries (APQ) and a safelist.

APQ lets a client send a SHA-256 hash instead of a long document, and the full
document only once after PERSISTED_QUERY_NOT_FOUND. A safelist goes further: the
gateway runs only operations registered in a manifest, so an attacker cannot
send any operation at all, however cheap it looks.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
NOT_IN_SAFELIST = "QUERY_NOT_IN_SAFELIST"
BAD_EXTENSION = "BAD_PERSISTED_QUERY"


class PersistedQueryError(Exception):
    """A persisted query could not be resolved; `code` goes into `extensions.code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueries:
    """Resolves a request's document from its hash, in APQ or safelist mode.

    With a `safelist` (hash -> document) only those documents run, sent in full
    or by hash. Without one, any document runs and APQ remembers up to
    `capacity` of them, least recently used first out.
    """

    def __init__(self, safelist: Mapping[str, str] | None = None, capacity: int = 1000) -> None:
        self.safelist = dict(safelist) if safelist is not None else None
        self.capacity = capacity
        self.cache: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_manifest(cls, path: str | Path) -> PersistedQueries:
        """A safelist from an Apollo persisted query manifest (operations with id and body).

        Every id must be the SHA-256 of its body, so a hash names one document only.
        """
        try:
            manifest = orjson.loads(Path(path).read_bytes())
            operations = manifest["operations"]
            safelist = {op["id"]: op["body"] for op in operations}
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a persisted query manifest ({exc})") from None
        for key, body in safelist.items():
            if not isinstance(body, str) or sha256(body) != key:
                raise ValueError(f"{path}: operation {key} is not the SHA-256 of its body")
        return cls(safelist)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run; raises `PersistedQueryError` when there is none to run."""
        digest = _requested_hash(extensions)
        if digest is not None and query is not None and sha256(query) != digest:
            raise PersistedQueryError(MISMATCH, "Provided sha256Hash does not match the query")
        if self.safelist is not None:
            return self._from_safelist(query, digest)
        if digest is None:
            return query
        if query is not None:
            self._remember(digest, query)
            return query
        if digest not in self.cache:
            raise PersistedQueryError(NOT_FOUND, "PersistedQueryNotFound")
        self.cache.move_to_end(digest)
        return self.cache[digest]

    def _from_safelist(self, query: str | None, digest: str | None) -> str:
        assert self.safelist is not None
        key = digest if digest is not None else sha256(query) if query is not None else None
        if key is None:
            raise PersistedQueryError(NOT_IN_LIST, "No registered operation was named")
        if key in self.safelist:
            return self.safelist[key]
        if query is None:
            raise PersistedQueryError(NOT_IN_LIST, f"No registered operation has hash {key}")
        raise PersistedQueryError(NOT_IN_SAFELIST, "This operation is not in the safelist")

    def _remember(self, digest: str, query: str) -> None:
        self.cache[digest] = query
        self.cache.move_to_end(digest)
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)


def _requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(BAD_EXTENSION, "persistedQuery must be {version: 1, sha256Hash}")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError(BAD_EXTENSION, "persistedQuery.sha256Hash must be 64 hex digits")
    return digest.lower()
