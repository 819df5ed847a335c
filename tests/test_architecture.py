"""The house's architecture, checked by walking every import (ast): the CLI on top, then flows, tasks, the plumbing
and schemas, with pop.paths at the bottom; nothing below imports anything above, and the stage packages of tasks/
import each other only downwards (reference < ledger < ingest < steward; quality and snapshot stand alone; ops, the
operator's view, reads them all)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pop import paths

PACKAGES = ("cli", "flows", "tasks", "pop", "schemas", "demo", "bench")

# (prefix, layer): the longest matching prefix decides a module's layer; a module may import only its own layer or
# lower ones. demo (the generator of the bundled data) sits beside tasks; bench measures the whole pipeline.
LAYERS = {
    "pop.paths": 0,
    "pop.config": 0,
    "schemas": 1,
    "pop": 2,
    "tasks": 3,
    "demo": 3,
    "flows": 4,
    "cli": 5,
    "bench": 5,
}
# the stage packages of tasks/, in the order they may import each other; equal ranks may not import each other
STAGES = {
    "tasks.policy": 0,
    "tasks.reference": 1,
    "tasks.ledger": 2,
    "tasks.ingest": 3,
    "tasks.steward": 4,
    "tasks.quality": 4,
    "tasks.snapshot": 4,
    "tasks.ops": 5,  # operator commands and alerts read every stage's records
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(paths.ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of our packages in a file, at any depth (function-level imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if ours(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and ours(node.module):
            # `from pop import paths` imports the module pop.paths: judge the most specific name
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def ranked(name: str, table: dict[str, int]) -> tuple[str, int] | None:
    """The longest prefix of `name` in `table`, with its rank."""
    matches = [p for p in table if name == p or name.startswith(p + ".")]
    if not matches:
        return None
    prefix = max(matches, key=len)
    return prefix, table[prefix]


def upward_imports() -> list[str]:
    problems = []
    for package in PACKAGES:
        for path in sorted((paths.ROOT / package).rglob("*.py")):
            importer = module_name(path)
            layer = ranked(importer, LAYERS)
            stage = ranked(importer, STAGES)
            for line, imported in imports_of(path):
                where = f"{path.relative_to(paths.ROOT)}:{line}: {importer} imports {imported}"
                target = ranked(imported, LAYERS)
                if layer and target and target[1] > layer[1]:
                    problems.append(f"{where} ({layer[0]} is below {target[0]})")
                target_stage = ranked(imported, STAGES)
                if stage and target_stage and stage[0] != target_stage[0] and target_stage[1] >= stage[1]:
                    problems.append(f"{where} (stage {stage[0]} may not import stage {target_stage[0]})")
    return problems


def test_imports_run_one_way() -> None:
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("importer", "source", "problem"),
    [
        ("pop/db.py", "from cli.app import console\n", "pop is below cli"),
        ("schemas/spec.py", "def f():\n    from pop.models import Base\n", "schemas is below pop"),
        ("tasks/ingest/batch.py", "from tasks.snapshot.build import build_snapshot\n", "stage tasks.ingest"),
        ("tasks/snapshot/build.py", "from tasks.quality import expectations\n", "stage tasks.snapshot"),
        ("pop/paths.py", "from pop import settings\n", "pop.paths is below pop"),
    ],
)
def test_an_import_that_runs_back_up_is_named(
    importer: str, source: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk finds an upward arrow wherever it is written, at the top of a file or inside a function."""
    target = paths.ROOT / importer
    original = Path.read_text

    def with_extra_import(self: Path, *args: object, **kwargs: object) -> str:
        text = original(self, *args, **kwargs)  # type: ignore[arg-type]
        return text + "\n" + source if self == target else text

    monkeypatch.setattr(Path, "read_text", with_extra_import)
    found = upward_imports()
    assert len(found) == 1 and problem in found[0] and importer in found[0]
