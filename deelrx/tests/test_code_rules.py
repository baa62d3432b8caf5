"""Rules of the code itself (issue 9): a service function fits on a screen.

Services hold the rules; a function longer than 60 lines holds several of them,
which is when one gets restated elsewhere. Split it into named steps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("deelrx", "credit", "knowledge_base", "admin_ops", "notifications", "reports")
MAX_LINES = 60


def _service_modules() -> list[Path]:
    modules = []
    for app in APPS:
        base = ROOT / app
        modules += [p for p in base.rglob("services/*.py") if "tests" not in p.parts]
        modules += [p for p in base.rglob("services.py") if "tests" not in p.parts]
    return sorted(set(modules))


def test_the_service_modules_are_found():
    names = {str(p.relative_to(ROOT)) for p in _service_modules()}
    assert "credit/services/ledger.py" in names
    assert "deelrx/audit/services.py" in names


def test_no_service_function_is_longer_than_60_lines():
    too_long = []
    for path in _service_modules():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert too_long == []
