"""The test tree's own rules (tests/README.md): folders mirror packages, tests share only
through `tests/support/`, and each shared helper exists once."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT, TESTS

FOLDERS_WITHOUT_A_PACKAGE = {"security", "support", "data", "http-audit", "idp", "composition"}


def python_files() -> list[Path]:
    return [p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts]


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files()
        for module in imported_modules(path)
        if module.startswith("tests.") and not module.startswith("tests.support")
    }
    assert not offenders, "share code through tests/support/ instead: " + "; ".join(
        sorted(offenders)
    )


def test_every_test_folder_mirrors_a_package() -> None:
    strays = []
    for folder in (p for p in TESTS.rglob("*") if p.is_dir()):
        parts = folder.relative_to(TESTS).parts
        if (
            parts[0] in FOLDERS_WITHOUT_A_PACKAGE
            or "node_modules" in parts
            or "__pycache__" in parts
        ):
            continue
        if not (ROOT.joinpath(*parts) / "__init__.py").is_file():
            strays.append("/".join(parts))
    assert not strays, f"test folders with no package of the same path: {strays}"


def test_tests_live_in_folders_and_support_holds_none() -> None:
    loose = [p.name for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name]
    in_support = [p.name for p in (TESTS / "support").glob("test_*.py")]
    assert (loose, in_support) == ([], [])


def test_each_shared_helper_is_defined_once() -> None:
    definitions: dict[str, list[str]] = {}
    for path in python_files():
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name in {"free_port", "running_server"}:
                definitions.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert {name: len(paths) for name, paths in definitions.items()} == {
        "free_port": 1,
        "running_server": 1,
    }, definitions
