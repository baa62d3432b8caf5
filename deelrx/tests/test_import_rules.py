"""The layering, checked by reading the imports (ast): the platform (`deelrx/`)
imports no feature app; the feature apps reach one another only through the
platform's registries (event types, retention hooks, purgeable entities),
neither by import nor by naming another app's model in a string
("credit.CreditAccount" for `apps.get_model`); and no two modules import each
other, directly or round a longer loop. Tests are exempt (they may set up any
app's data).

Two apps only consume what the others record:
- `reports` is a read-only consumer (decision 46): it may import the other apps'
  read modules (`models`, `selectors`, credit's `figures`), never their services,
  views, APIs, forms or tasks; nothing imports `reports` (searches reach it through
  the platform hook `deelrx.searches`).
- `notifications` is told through the platform (the audit registry's audiences and
  `deelrx.audit` hooks): it imports no feature app and no feature app imports it.
The root URLconf names the apps' URL modules as strings: it wires, it does not import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("deelrx", "credit", "knowledge_base", "admin_ops", "notifications", "reports")
FEATURE_APPS = ("credit", "knowledge_base", "admin_ops", "notifications", "reports")
FORBIDDEN = {
    "deelrx": FEATURE_APPS,
    # e.g. admin_ops purges credit and KB rows through the purgeable entities they register;
    # notifications reads the event registry
    **{app: tuple(other for other in FEATURE_APPS if other != app) for app in FEATURE_APPS},
}
# app → {other app: the modules of it that app may import (read-only)}: an exception to FORBIDDEN
READ_ONLY = {
    "reports": {
        "credit": ("credit.models", "credit.selectors", "credit.figures"),
        "knowledge_base": ("knowledge_base.models", "knowledge_base.selectors"),
    },
}


def allowed(source: str, target: str) -> bool:
    """May module `source` import module `target` (or name a model of its app)?"""
    package, other = source.split(".")[0], target.split(".")[0]
    if other not in FORBIDDEN.get(package, ()):
        return True
    readable = READ_ONLY.get(package, {}).get(other, ())
    return any(target == module or target.startswith(f"{module}.") for module in readable)


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
            if not allowed(name, target):
                arrows.append(f"{name} -> {target}")
    assert sorted(arrows) == []


def test_reports_reads_and_nothing_imports_reports_or_notifications():
    """The read-only consumers: reports reaches into the others' read modules only, and
    no other package imports reports or notifications (they are told, not called)."""
    edges = graph()
    reports_reads = {target for name, targets in edges.items() if name.startswith("reports") for target in targets}
    assert {t.split(".")[0] for t in reports_reads} - {"reports", "deelrx"} <= {"credit", "knowledge_base"}
    assert not any(t.startswith(("credit.services", "knowledge_base.services", "credit.views")) for t in reports_reads)
    into = [
        f"{name} -> {target}"
        for name, targets in edges.items()
        for target in targets
        if target.split(".")[0] in ("reports", "notifications") and name.split(".")[0] != target.split(".")[0]
    ]
    assert into == []
    assert not allowed("reports.views", "credit.services.ledger")
    assert not allowed("reports.selectors.credit", "credit.api.views")
    assert allowed("reports.selectors.credit", "credit.figures")
    assert not allowed("credit.services.ledger", "reports.selectors.credit")
    assert not allowed("notifications.services", "credit.models")
    assert not allowed("knowledge_base.views", "notifications.selectors")


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


def _model_references(path: Path) -> list[tuple[str, int]]:
    """Strings that name a model of a feature app: "app_label.Model" constants, and
    `apps.get_model("app_label", …)` calls."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            app, _, model = node.value.partition(".")
            if app in FEATURE_APPS and model[:1].isupper() and model.isidentifier():
                found.append((app, node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get_model" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((first.value.split(".")[0], node.lineno))
    return found


def test_no_model_of_another_app_named_in_a_string():
    """A lazy reference is still a dependency: the purgeable entities of credit and the
    knowledge base are declared by those apps, not listed by admin operations."""
    arrows = []
    for name, path in source_modules().items():
        for app, line in _model_references(path):
            if not allowed(name, f"{app}.models"):
                arrows.append(f"{name}:{line} -> {app}")
    assert sorted(arrows) == []


def test_the_checks_see_a_forbidden_arrow(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        "from django.apps import apps\n"
        "from credit.models import CreditAccount\n"
        'LABEL = "knowledge_base.KbArticle"\n'
        'apps.get_model("credit", "CreditTransaction")\n'
    )
    assert "credit.models" in imports_of(module, "admin_ops.example")
    assert _model_references(module) == [("knowledge_base", 3), ("credit", 4)]
