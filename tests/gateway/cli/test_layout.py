"""The command line's shape: one module per command, and the rules that keep it at the edge.

Only gateway/cli/ turns errors into exit codes, nothing outside it imports it,
and no module reads a ROBOPASS_* variable except through the configuration loader.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from gateway.cli.main import COMMANDS, build_parser
from gateway.cli.registry import COMMANDS as REGISTRY_COMMANDS
from tests.support.paths import ROOT

GATEWAY = ROOT / "gateway"
TOP_LEVEL = [
    "serve", "config", "token", "auth-server", "demo", "registry", "witness", "sync",
    "export", "verify", "key", "credential", "present", "translate", "mapping", "audit",
]  # fmt: skip
REGISTRY = [
    "seed", "fleet", "import", "verify", "backup", "recommit", "identify", "rollup", "serve",
]  # fmt: skip


def outside_cli() -> list[tuple[Path, ast.Module]]:
    files = [p for p in GATEWAY.rglob("*.py") if GATEWAY / "cli" not in p.parents]
    assert len(files) > 50
    return [(p, ast.parse(p.read_text("utf-8"), str(p))) for p in files]


def commands(parser: argparse.ArgumentParser) -> list[str]:
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(group.choices)


def test_robopass_lists_every_command_in_its_order() -> None:
    parser = build_parser()
    assert commands(parser) == TOP_LEVEL
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert commands(group.choices["registry"]) == REGISTRY


def test_every_command_module_registers_itself() -> None:
    for module in (*COMMANDS, *REGISTRY_COMMANDS):
        assert callable(getattr(module, "register", None)), module.__name__
        assert module.__doc__, f"{module.__name__} says what its command does"


def test_no_module_outside_the_cli_imports_it_or_exits() -> None:
    offences = []
    for path, tree in outside_cli():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gateway.cli"):
                offences.append(f"{path}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Import):
                offences += [
                    f"{path}:{node.lineno} imports {a.name}"
                    for a in node.names
                    if a.name.startswith("gateway.cli")
                ]
            if isinstance(node, ast.Name) and node.id == "SystemExit":
                offences.append(f"{path}:{node.lineno} raises SystemExit")
            if isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.exit":
                offences.append(f"{path}:{node.lineno} calls sys.exit")
    assert offences == []


def test_robopass_variables_are_read_only_by_the_configuration_loader() -> None:
    """`os.environ.get("ROBOPASS_...")`, `environ["ROBOPASS_..."]`, `os.getenv(...)`."""
    offences = []
    for path, tree in outside_cli() + [
        (p, ast.parse(p.read_text("utf-8"))) for p in (GATEWAY / "cli").rglob("*.py")
    ]:
        if path.parent == GATEWAY / "config":
            continue
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Call) and node.args:
                name = ast.unparse(node.func)
                if name.endswith(("environ.get", "getenv", "env")):
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
                key = node.slice
            if isinstance(key, ast.Constant) and str(key.value).startswith("ROBOPASS_"):
                offences.append(f"{path}:{node.lineno} reads {key.value}")
    assert offences == []
