"""The layering, checked by reading the imports (ast): the platform (`deelrx/`)
imports no feature app; `admin_ops` reaches `credit` and `knowledge_base`
only through registries; and no two modules import each other, directly or
round a longer loop. Tests are exempt (they may set up any app's data)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("deelrx", "credit", "knowledge_base", "admin_ops", "notifications")
FORBIDDEN = {
    "deelrx": ("credit", "knowledge_base", "admin_ops", "notifications"),
    "admin_ops": ("credit", "knowledge_base"),
    # notifications reads the event registry: it knows no feature app
    "notifications": ("credit", "knowledge_base", "admin_ops"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).parts
            if "tests" in relative or "migrations" in relative:
                continue
            modules[module_name(path)] = path
    return modules


def imports_of(path: Path, name: str) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {
        name: {target for target in imports_of(path, name) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_no_forbidden_arrow_between_apps():
    arrows = []
    for name, targets in graph().items():
        for target in targets:
            if target.split(".")[0] in FORBIDDEN.get(name.split(".")[0], ()):
                arrows.append(f"{name} -> {target}")
    assert sorted(arrows) == []


def test_no_import_cycles():
    edges = graph()
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []
