"""mutmut configuration for `make mutate` (see bench/mutate.py, which runs it).

- MODULES: the money core that is mutated.
- TESTS: the tests each module's mutants run, fastest and most targeted first
  (pytest stops at the first failure, so a killed mutant costs a few seconds;
  the slow transactional and threaded tests come last).
- EQUIVALENT: mutants that cannot change behaviour, each with the reason. They
  are skipped (not run) and left out of the score. An entry names the module,
  the source line and the mutated line (both stripped), as `mutmut show` prints
  them; `python -m bench.mutate --report` lists entries that no longer match.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import NamedTuple

TESTS_DIR = "credit/tests"
MAP_FILE = ".mutate-map.json"  # written by `python -m bench.mutate` (which tests run which line)

MODULES = ("credit/services/ledger.py", "credit/services/idempotency.py", "credit/figures.py")

_T = "credit/tests/"
TESTS = {
    "credit/services/ledger.py": [
        _T + "test_ledger.py",
        _T + "test_money_mutants.py",
        _T + "test_figures.py",
        _T + "test_verify_ledger.py",
        _T + "test_money_invariants.py",
        _T + "test_idempotency.py",
        _T + "test_write_path.py",
        _T + "test_concurrency.py",
    ],
    "credit/services/idempotency.py": [
        _T + "test_idempotency.py",
        _T + "test_money_mutants.py",
        _T + "test_write_path.py",
        _T + "test_concurrency.py",
    ],
    "credit/figures.py": [
        _T + "test_figures.py",
        _T + "test_money_mutants.py",
        _T + "test_aging.py",
        _T + "test_ledger.py",
        _T + "test_verify_ledger.py",
        _T + "test_money_invariants.py",
    ],
}


class Equivalent(NamedTuple):
    module: str
    line: str
    mutant: str
    reason: str


_L, _I, _F = MODULES

EQUIVALENT: list[Equivalent] = [
    # --- credit/services/ledger.py
    Equivalent(
        _L,
        'CreditTransaction.objects.filter(team=team, idempotency_key=idempotency_key).order_by().values("pk")[:1]',
        'CreditTransaction.objects.filter(team=team, idempotency_key=idempotency_key).order_by().values("pk")[:2]',
        "(team, idempotency_key) is unique (constraint): the subquery never has a second row to return.",
    ),
    Equivalent(
        _L,
        "account = next(iter(queryset.filter(team=team, customer_id=customer_id).order_by()[:1]), None)",
        "account = next(iter(queryset.filter(team=team, customer_id=customer_id).order_by()[:2]), None)",
        "(team, customer) is unique (constraint): at most one account matches; next() takes the first anyway.",
    ),
    Equivalent(
        _L,
        "if account.status == CreditAccount.Status.CLOSED or (effect > 0 and "
        "account.status != CreditAccount.Status.ACTIVE):",
        "if account.status == CreditAccount.Status.CLOSED or (effect >= 0 and "
        "account.status != CreditAccount.Status.ACTIVE):",
        "The signed effect is never 0: amounts are validated non-zero and the check constraints forbid 0.",
    ),
    Equivalent(
        _L,
        'created_by=user if getattr(user, "is_authenticated", False) else None,',
        'created_by=user if getattr(user, "is_authenticated", True) else None,',
        "Callers pass a User or AnonymousUser (both have is_authenticated) or None, which is stored as None "
        "whichever the default.",
    ),
    Equivalent(
        _L,
        "tx.save(force_insert=True)",
        "tx.save(force_insert=False)",
        "A new instance whose pk has a default is inserted directly by Django (Model._save_table forces the "
        "INSERT): same statement either way.",
    ),
    # --- credit/services/idempotency.py
    Equivalent(
        _I,
        "@dataclass(frozen=True)",
        "@dataclass(frozen=False)",
        "Replay: nothing assigns to a Replay or hashes it; it is built and read once.",
    ),
]


def tests_for(module: str) -> list[str]:
    return [path for path in TESTS[module] if Path(path).exists()]


def all_tests() -> list[str]:
    """Every selected test file once, in the order of first appearance (mutmut's baseline run)."""
    return list(dict.fromkeys(path for module in MODULES for path in tests_for(module)))


def mutant_lines(module: str, source: str, mutation_id) -> tuple[str, str]:
    """The line a mutant changes, before and after (stripped)."""
    from mutmut import Context, mutate

    mutated, _ = mutate(Context(source=source, filename=module, mutation_id=mutation_id))
    index = mutation_id.line_number
    return source.split("\n")[index].strip(), mutated.split("\n")[index].strip()


_used: set[Equivalent] = set()


def equivalent_reason(module: str, line: str, mutant: str) -> str | None:
    for entry in EQUIVALENT:
        if (entry.module, entry.line, entry.mutant) == (module, line, mutant):
            _used.add(entry)
            return entry.reason
    return None


def unused_equivalents() -> list[tuple[str, str, str]]:
    return [(e.module, e.line, e.mutant) for e in EQUIVALENT if e not in _used]


# --- mutmut hooks ------------------------------------------------------------------------


def init() -> None:
    pass


_statements: dict[str, list] = {}
_map: dict | None = None


def _lines_of(module: str, source: str, line: int) -> list[int] | None:
    """The lines whose execution runs the code of `line` (1-based): the whole
    simple statement around it, or the header of a compound one (`if …:`,
    `for …:`); None outside any function (module or class level, decorators)."""
    import ast

    if module not in _statements:
        tree = ast.parse(source)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        _statements[module] = [
            (n, any(f.lineno < n.lineno <= f.end_lineno for f in functions) or n in functions)
            for n in ast.walk(tree)
            if isinstance(n, ast.stmt)
        ]
    around = [(n, inside) for n, inside in _statements[module] if n.lineno <= line <= n.end_lineno]
    if not around:
        return None
    node, inside_function = max(around, key=lambda pair: (pair[0].lineno, -pair[0].end_lineno))
    if not inside_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None  # definition time: a default value, a decorator, a constant, a class body
    bodies = [child for field in ("body", "orelse", "finalbody", "handlers") for child in getattr(node, field, [])]
    if not bodies:
        return list(range(node.lineno, node.end_lineno + 1))
    header_end = min(child.lineno for child in bodies) - 1
    return list(range(node.lineno, header_end + 1)) if line <= header_end else [line]


def selected_tests(module: str, source: str, line: int) -> list[str]:
    """The tests that execute the mutated statement, fastest files first; the
    module's whole selection for code that runs at import; [] for code that no
    selected test executes (nothing can kill such a mutant)."""
    global _map
    if _map is None:
        _map = json.loads(Path(MAP_FILE).read_text()) if Path(MAP_FILE).exists() else None
    lines = _lines_of(module, source, line)
    if lines is None or _map is None:
        return tests_for(module)
    by_line = _map["lines"].get(module, {})
    contexts = {context for number in lines for context in by_line.get(str(number), ())}
    found = contexts - {""}
    if not found:
        return tests_for(module) if "" in contexts else []
    files = {path: index for index, path in enumerate(tests_for(module))}
    run_order = {nodeid: index for index, nodeid in enumerate(_map["order"])}
    return sorted(found, key=lambda nodeid: (files.get(nodeid.split("::")[0], len(files)), run_order.get(nodeid, 0)))


def pre_mutation(context) -> None:
    """Skip the equivalent mutants; run the tests that execute the mutated statement."""
    module = context.filename
    before, after = mutant_lines(module, context.source, context.mutation_id)
    if equivalent_reason(module, before, after):
        context.skip = True
        return
    runner = context.config.test_command.split(" --pytest ")[0]
    tests = selected_tests(module, context.source, context.mutation_id.line_number + 1) or ["--none"]
    context.config.test_command = " ".join([runner, "--pytest", *(shlex.quote(t) for t in tests)])
