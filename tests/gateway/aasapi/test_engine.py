"""The official AAS test engine (`aas-test-engines`) against a real `robopass serve`.

It checks the read profiles the API claims in /description: the AAS Repository and the
Submodel Repository service specifications, SSP-002, each with its generated negative
tests (bad base64url ids, bad limits, bad modifiers) and its positive tests (every
operation's response parsed against the V3.0 meta-model and its constraints).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import running_server

engine = pytest.importorskip("aas_test_engines.api", reason="pip install -e '.[dev]'")
from aas_test_engines.config import CheckApiConfig  # noqa: E402
from aas_test_engines.http import HttpClient  # noqa: E402

pytestmark = pytest.mark.process

PREFIX = "https://admin-shell.io/aas/API/3/0/"
PROFILES = [
    f"{PREFIX}AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    f"{PREFIX}SubmodelRepositoryServiceSpecification/SSP-002",
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("aasapi") / "data"
    with running_server(data_dir, "--robots", "30") as base:
        yield f"{base}/aas/api/v3.0"


def failures(result, path: tuple[str, ...] = ()) -> list[str]:
    """The messages of the deepest failed checks, with where they sit."""
    here = (*path, result.message)
    if result.ok():
        return []
    found = [f for sub in result.sub_results for f in failures(sub, here)]
    return found or [" / ".join(here[-3:])]


@pytest.mark.parametrize("profile", PROFILES, ids=["aas-repository", "submodel-repository"])
def test_the_official_engine_passes_the_read_profile(api, profile):
    assert profile in httpx.get(f"{api}/description").json()["profiles"]
    result, matrix = engine.execute_tests(HttpClient(api), CheckApiConfig(suite=profile))
    rejected, negative = matrix.invalid_rejected, matrix.invalid_rejected + matrix.invalid_accepted
    accepted, positive = matrix.valid_accepted, matrix.valid_accepted + matrix.valid_rejected
    summary = f"negative {rejected}/{negative}, positive {accepted}/{positive}"
    print(f"{profile.rsplit('/', 2)[1]}: {summary}")
    assert negative > 25 and positive > 70, summary  # the engine ran its checks at all
    assert result.ok(), failures(result)
    assert matrix.invalid_accepted == 0 and matrix.valid_rejected == 0, summary
