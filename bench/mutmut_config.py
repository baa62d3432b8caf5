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
        _T + "test_money_mutants.py",
        _T + "test_ledger.py",
        _T + "test_figures.py",
        _T + "test_verify_ledger.py",
        _T + "test_money_invariants.py",
        _T + "test_idempotency.py",
        _T + "test_write_path.py",
        _T + "test_concurrency.py",
    ],
    "credit/services/idempotency.py": [
        _T + "test_money_mutants.py",
        _T + "test_idempotency.py",
        _T + "test_write_path.py",
        _T + "test_concurrency.py",
    ],
    "credit/figures.py": [
        _T + "test_money_mutants.py",
        _T + "test_figures.py",
        _T + "test_aging.py",
        _T + "test_ledger.py",
        _T + "test_verify_ledger.py",
        _T + "test_money_invariants.py",
    ],
}


class Equivalent(NamedTuple):
    module: str
    line: str  # the source line, stripped
    mutant: str  # the mutated line, stripped
    reason: str
    function: str | None = None  # the function around it, when the same line occurs elsewhere


_L, _I, _F = MODULES

EQUIVALENT: list[Equivalent] = [
    # --- credit/services/ledger.py
    Equivalent(
        _L,
        "@cache",
        '"""One statement, written once: the account\'s row, locked, and with a key the',
        "_lock_sql only memoises a string built from model metadata: without the cache the same SQL is built "
        "on every call.",
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
        'account = db.instance_from_row(CreditAccount, row[:-1], alias="a")',
        'account = db.instance_from_row(CreditAccount, row[:-1], alias="XXaXX")',
        "The alias only names the column handed to converters that read their expression; no CreditAccount "
        "field has such a converter (the row's values are the same whatever it is called).",
    ),
    # --- credit/services/idempotency.py
    Equivalent(
        _I,
        "@dataclass(frozen=True)",
        "@dataclass(frozen=False)",
        "Replay: nothing assigns to a Replay or hashes it; it is built and read once.",
    ),
    # --- credit/figures.py
    Equivalent(
        _F,
        "WALK_CHUNK = 500",
        "WALK_CHUNK = 501",
        "Rows fetched per round trip by the settlement walks' cursor: the same rows, in the same order.",
    ),
    Equivalent(
        _F,
        "WALK_CHUNK = 500",
        "WALK_CHUNK = None",
        "iterator(chunk_size=None) uses Django's default fetch size (2000): the same rows, in the same order.",
    ),
    Equivalent(
        _F,
        "return type_ in (Type.CHARGE, Type.FEE) or (type_ == Type.ADJUSTMENT and amount_cents > 0)",
        "return type_ in (Type.CHARGE, Type.FEE) or (type_ == Type.ADJUSTMENT and amount_cents >= 0)",
        "An adjustment is never 0 (validation and a check constraint).",
    ),
    Equivalent(
        _F,
        "needs_walk: bool = False",
        "needs_walk: bool = None",
        "Completion.needs_walk is only tested for truth; None and False are both false.",
    ),
    Equivalent(
        _F,
        "newest = new_row or (before > 0 and oldest is not None)",
        "newest = new_row or (before >= 0 and oldest is not None)",
        "An oldest unpaid due date means something is unpaid, and the unpaid parts add up to the balance: "
        "then the balance is > 0, never 0.",
    ),
    Equivalent(
        _F,
        "newest = before > 0 and oldest is not None and (tx.due_date > oldest or (new_row and tx.due_date == oldest))",
        "newest = before >= 0 and oldest is not None and (tx.due_date > oldest or (new_row and tx.due_date == oldest))",
        "As above: with an oldest unpaid due date the balance is > 0, never 0.",
    ),
    Equivalent(
        _F,
        "if before <= 0 and tx.outstanding_cents and tx.due_date is not None:",
        "if before < 0 and tx.outstanding_cents and tx.due_date is not None:",
        "Unreachable branch: a dated debit is settled in memory only when before > 0 (the `newest` test above), "
        "an undated one has no due date; so this condition is never true, mutated or not.",
    ),
    Equivalent(
        _F,
        "if before <= 0 and tx.outstanding_cents and tx.due_date is not None:",
        "if before <= 0 and tx.outstanding_cents and tx.due_date is  None:",
        "Only an undated debit on an account that owed nothing gets here; its oldest unpaid due date is None "
        "already, and None is what the mutant stores.",
    ),
    Equivalent(
        _F,
        "account.oldest_unpaid_due_date = tx.due_date",
        "account.oldest_unpaid_due_date = None",
        "Unreachable line (see the `before <= 0` branch above).",
    ),
    Equivalent(
        _F,
        "if account.balance_cents <= 0:",
        "if account.balance_cents < 0:",
        "At a balance of exactly 0 the walk settles every unpaid row (the credit covers them all) and finds no "
        "oldest due date: the same figures as the shortcut.",
    ),
    Equivalent(
        _F,
        "oldest = None",
        'oldest = ""',
        "Initial value, never stored: with a positive balance left the walk always stops at a row it cannot "
        "settle in full (the unpaid parts add up to the balance) and takes that row's due date.",
        function="_settle_credit",
    ),
    Equivalent(
        _F,
        "none: list[uuid.UUID] = []",
        "none: list[uuid.UUID] = None",
        "Completing a debit never lowers another debit's unpaid part (it only adds to the balance), so with "
        "figures equal to the ledger (what verify_ledger checks) no row goes to 0 and the list stays unused.",
    ),
    Equivalent(
        _F,
        "CreditTransaction.objects.filter(pk__in=none).update(outstanding_cents=0)",
        "CreditTransaction.objects.filter(pk__in=none).update(outstanding_cents=1)",
        "Same reason: the list is empty whenever the figures equal the ledger.",
    ),
    Equivalent(
        _F,
        "partial: tuple[uuid.UUID, int] | None = None",
        "partial: tuple[uuid.UUID, int] & None = None",
        "The annotation of a local variable is never evaluated.",
    ),
    Equivalent(
        _F,
        "partial: tuple[uuid.UUID, int] | None = None",
        'partial: tuple[uuid.UUID, int] | None = ""',
        "Only tested for truth ('' and None are both false) and replaced before any other use.",
    ),
    Equivalent(
        _F,
        "want = min(amount, max(target - covered, 0))",
        "want = min(amount, max(target - covered, 1))",
        "The walk stops once the balance is covered (every formerly unpaid part is seen by then when the "
        "figures equal the ledger), so every row it settles has target - covered >= 1.",
    ),
    Equivalent(
        _F,
        "if want and due_date is not None:",
        "if want or due_date is not None:",
        "Every row the walk settles has want > 0 (see above), and the undated debits come first in the walk: "
        "the last row seen with a date is the last row seen once any dated row is seen.",
    ),
    Equivalent(
        _F,
        "@dataclass(frozen=True)",
        "@dataclass(frozen=False)",
        "AgingBucket, Aging, AccountCheck: nothing assigns to them or hashes them.",
    ),
    Equivalent(
        _F,
        "buckets: list[AgingBucket] = field(default_factory=list)",
        "buckets: list[AgingBucket] = None",
        "Aging is only built by _aging, always with its buckets: the default is never used.",
    ),
    Equivalent(
        _F,
        "for (key, label), cents in zip(BUCKETS, amounts, strict=True)",
        "for (key, label), cents in zip(BUCKETS, amounts, strict=False)",
        "The amounts always come one per bucket (the same BUCKETS build the query and read the row).",
    ),
    Equivalent(
        _F,
        "def ledger_check(*, team=None, chunk_size: int = 2000) -> Iterator[AccountCheck]:",
        "def ledger_check(*, team=None, chunk_size: int = 2001) -> Iterator[AccountCheck]:",
        "Rows fetched per round trip by verify_ledger's cursor: the same rows, in the same order.",
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


def function_at(source: str, line: int) -> str | None:
    """The name of the innermost function around `line` (1-based)."""
    import ast

    around = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno <= line <= node.end_lineno
    ]
    return max(around, key=lambda node: node.lineno).name if around else None


_used: set[Equivalent] = set()


def equivalent_reason(module: str, source: str, mutation_id) -> str | None:
    line, mutant = mutant_lines(module, source, mutation_id)
    for entry in EQUIVALENT:
        if (entry.module, entry.line, entry.mutant) != (module, line, mutant):
            continue
        if entry.function and entry.function != function_at(source, mutation_id.line_number + 1):
            continue
        _used.add(entry)
        return entry.reason
    return None


def unused_equivalents() -> list[tuple[str, str, str]]:
    return [(e.module, e.line, e.mutant) for e in EQUIVALENT if e not in _used]


# --- mutmut hooks ------------------------------------------------------------------------


def init() -> None:
    """Work around a mutmut 2.5.1 cache bug: when choosing which mutants to run,
    `mutmut.cache.get_cached_mutation_statuses` looks lines up by their text
    only, so of two identical lines in a module (`params * 2,`, `"transaction_id":
    tx.pk,`) the second takes the first one's status — a new mutant there is
    counted as killed without ever running. Look each mutant up by its line
    number as well (what `cached_mutation_status`, used everywhere else, does)."""
    from mutmut import cache

    def statuses(filename, mutations, hash_of_tests):
        return {m: cache.cached_mutation_status(filename, m, hash_of_tests) for m in mutations}

    cache.get_cached_mutation_statuses = statuses


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
    module's whole selection for code that (also) runs at import; [] for code
    that no selected test executes (nothing can kill such a mutant)."""
    global _map
    if _map is None:
        _map = json.loads(Path(MAP_FILE).read_text()) if Path(MAP_FILE).exists() else None
    lines = _lines_of(module, source, line)
    if lines is None or _map is None:
        return tests_for(module)
    by_line = _map["lines"].get(module, {})
    contexts = {context for number in lines for context in by_line.get(str(number), ())}
    if "" in contexts:
        # it also ran at import (a module-level value computed by this function,
        # e.g. EMPTY_AGING): tests that use the value never run the line themselves
        return tests_for(module)
    if not contexts:
        return []
    files = {path: index for index, path in enumerate(tests_for(module))}
    run_order = {nodeid: index for index, nodeid in enumerate(_map["order"])}
    return sorted(contexts, key=lambda nodeid: (files.get(nodeid.split("::")[0], len(files)), run_order.get(nodeid, 0)))


def pre_mutation(context) -> None:
    """Skip the equivalent mutants; run the tests that execute the mutated statement."""
    module = context.filename
    if equivalent_reason(module, context.source, context.mutation_id):
        context.skip = True
        return
    runner = context.config.test_command.split(" --pytest ")[0]
    tests = selected_tests(module, context.source, context.mutation_id.line_number + 1) or ["--none"]
    context.config.test_command = " ".join([runner, "--pytest", *(shlex.quote(t) for t in tests)])
