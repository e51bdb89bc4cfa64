"""A user mapping document that tries to copy every field, for the leak tests.

Every way JSONata has to copy data: the whole document, its text, every key, every leaf
through descendants, counts. Served as an export format, it must still show a caller no
more than the caller's mask: the mask is applied before any mapping runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson

from adapters.mapcheck import check
from adapters.mapdoc import parse
from adapters.mapengine import Program
from gateway.service.export import EXPORT_FORMATS
from gateway.service.mapdocs import load_folder

COPY_ALL_ID = "copy-all"
COPY_ALL = """\
robopass_mapping: 1
id: copy-all
version: "1"
from: canonical
to: copy-all
target_schema: any.schema.json
rules:
  - name: everything
    target: whole
    expression: $
  - name: text
    target: text
    expression: $string($)
  - name: keys
    target: keys
    expression: '[**.$keys()]'
  - name: leaves
    target: leaves
    expression: '[**.*[$type($) != "object" and $type($) != "array"]]'
  - name: counts
    target: counts
    expression: '{"owners": $count(ownership), "incidents": $count(incidents)}'
unmapped:
  identity: copied whole
"""


SCHEMA = {
    "type": "object",
    "properties": {n: {} for n in ("whole", "text", "keys", "leaves", "counts")},
}


@cache
def copy_all_programs() -> dict[str, Program]:
    """The copy-all document compiled, by id, as a gateway serves it (read from no file)."""
    return {COPY_ALL_ID: check(parse(COPY_ALL, "copy-all.mapping.yaml"), SCHEMA).forward}


def copy_all(folder: Path) -> dict[str, Program]:
    """The copy-all document written to `folder` (with its schema) and loaded as served."""
    (folder / "any.schema.json").write_bytes(orjson.dumps(SCHEMA))
    (folder / "copy-all.mapping.yaml").write_text(COPY_ALL, "utf-8")
    return load_folder(folder, EXPORT_FORMATS)
