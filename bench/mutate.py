"""Mutation testing of the money core: `make mutate` (or `python -m bench.mutate`).

mutmut 2 (pinned in requirements-dev.txt) mutates `credit/services/ledger.py`,
`credit/services/idempotency.py` and `credit/figures.py` one mutant at a time and
runs a focused selection of the credit tests against each, on the database of
`DATABASE_URL` (PostgreSQL: the concurrency tests are part of the selection).
The configuration — the modules, the tests each module's mutants run, and the
equivalent mutants that are skipped, each with its reason — is
`bench/mutmut_config.py`.

mutmut rewrites the file it mutates in place, so the run happens in a copy of
the working tree (`var/mutate/tree/`): the checkout, which other people may be
testing or benchmarking at the same moment, is never touched. The copy keeps
mutmut's cache (`.mutmut-cache`) between runs: a run re-tests only the mutants
that are new (changed lines) or that survived while the tests changed since.

    python -m bench.mutate                 # all three modules, then the score
    python -m bench.mutate credit/figures.py
    python -m bench.mutate --fresh         # forget the cache, test every mutant again
    python -m bench.mutate --report        # the score of the last run, no testing
    python -m bench.mutate --without credit/tests/test_money_mutants.py   # the score without a test file

The score is (killed + timed out) / (mutants - equivalent ones), per module and
in total; the surviving mutants are listed with their diff. Exit status 1 when
the total is below `--min-score` (90 by default) or a mutant was left untested.

Each mutant runs only the tests that can see it: before mutmut starts, one run
of the selected tests under coverage records which tests execute each line of
the three modules (`.mutate-map.json` in the tree, rebuilt when a test or a
module changes). A mutant in a function runs the tests that execute its
statement, in the order of `bench/mutmut_config.py` — a test that never
reaches the statement runs exactly as without the mutant; code that runs at
import (a constant, a default value, a decorator, a class body, a function
that computes a module-level value) runs the module's whole selection; code
that no test executes survives without a run.

`python -m bench.mutate --pytest ARGS` is the test command mutmut runs for each
mutant (see `run_pytest`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutate"
TREE = WORK / "tree"
CACHE = ".mutmut-cache"
MAP_FILE = ".mutate-map.json"  # the same name as bench.mutmut_config.MAP_FILE
# Set while a test run is in progress: if mutmut had to kill one (timeout), a
# transactional test may have left rows behind, so the next run rebuilds the test DB.
DIRTY_MARKER = ".mutate-dirty"
# In test order, in this process (one worker: the machine is shared with benchmarks).
SINGLE_PROCESS = ("-p", "no:randomly", "-p", "no:xdist")
# Not copied into the tree: environments, caches, local data, the tree itself.
IGNORED = (".git", ".venv", "var", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "node_modules", "html")


def run_pytest(args: list[str]) -> int:
    """One mutant's test run: pytest in this process, with the exit status
    mutmut understands. mutmut counts only status 1 as "killed" and anything
    else as "survived"; but every failure here is the mutant's doing — the
    selection passes without it (mutmut's first run and the coverage map check
    that) — including a mutant that breaks the import of its module, which
    makes pytest stop with 2 (errors during collection) or, given node ids,
    4 ("found no collectors"). So: 0 stays 0, anything else is 1."""
    if args == ["--none"]:
        return 0  # no selected test executes the mutated code: it survives, nothing to run
    import pytest

    marker = Path(DIRTY_MARKER)
    plugins = [_flush_leftovers_plugin()] if marker.exists() else []
    marker.touch()
    code = int(pytest.main(["-q", "-x", *SINGLE_PROCESS, "--tb=line", "--no-header", *args], plugins=plugins))
    marker.unlink()
    return 0 if code == 0 else 1


def _flush_leftovers_plugin():
    """After a run that was killed (timeout): empty the reused test database
    first, as the flush at the end of a transactional test would have."""
    import types

    import pytest

    @pytest.fixture(scope="session", autouse=True)
    def _flush_leftovers(django_db_setup, django_db_blocker):
        from django.core.management import call_command

        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)

    plugin = types.ModuleType("bench_mutate_flush")  # pytest reads fixtures off modules and classes
    plugin._flush_leftovers = _flush_leftovers
    return plugin


def sync_tree(without: list[str]) -> None:
    """A fresh copy of the working tree (tracked and untracked files alike, so
    that uncommitted tests count), keeping mutmut's cache; `without`: paths
    left out of the copy."""
    TREE.mkdir(parents=True, exist_ok=True)
    for entry in TREE.iterdir():
        if entry.name in (CACHE, DIRTY_MARKER, MAP_FILE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    ignore = shutil.ignore_patterns(*IGNORED)
    for entry in ROOT.iterdir():
        if ignore(str(ROOT), [entry.name]):
            continue
        if entry.is_dir():
            shutil.copytree(entry, TREE / entry.name, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(entry, TREE / entry.name)
    for path in without:
        (TREE / path).unlink()
    # mutmut imports its hooks as the top-level module `mutmut_config`.
    (TREE / "mutmut_config.py").write_text("from bench.mutmut_config import init, pre_mutation  # noqa: F401\n")


def _contexts_plugin(cov):
    """Coverage contexts per test (the test's node id), threads included."""

    class Contexts:
        def pytest_runtest_setup(self, item):
            cov.switch_context(item.nodeid)

        def pytest_runtest_teardown(self, item):
            cov.switch_context(item.nodeid)

        def pytest_runtest_logfinish(self, nodeid, location):
            cov.switch_context("")

    return Contexts()


def inputs_hash() -> str:
    """What the map depends on: the tests, the modules and the selections."""
    from bench import mutmut_config

    digest = hashlib.sha256()
    paths = sorted(Path(mutmut_config.TESTS_DIR).rglob("*.py")) + [Path(m) for m in mutmut_config.MODULES]
    for path in [*paths, Path("bench/mutmut_config.py")]:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_map() -> int:
    """Runs inside the tree: the selected tests once under coverage; writes, per
    module and line, the node ids of the tests that executed it (run order)."""
    import coverage
    import pytest

    from bench import mutmut_config

    modules = {str(Path(m).resolve()): m for m in mutmut_config.MODULES}
    cov = coverage.Coverage(data_file=None, include=list(modules), branch=False)
    order: list[str] = []

    class Order:
        def pytest_runtest_logstart(self, nodeid, location):
            order.append(nodeid)

    cov.start()
    try:
        code = int(
            pytest.main(
                ["-q", "-p", "no:randomly", *mutmut_config.all_tests()], plugins=[_contexts_plugin(cov), Order()]
            )
        )
    finally:
        cov.stop()
    if code != 0:
        print("The selected tests fail without any mutant: fix them first.", file=sys.stderr)
        return 1
    data = cov.get_data()
    position = {nodeid: index for index, nodeid in enumerate(order)}
    lines = {}
    for path, module in modules.items():
        by_line = data.contexts_by_lineno(path)
        # "" is the context outside any test: the code ran at import (module level)
        lines[module] = {
            str(line): sorted(contexts, key=lambda c: position.get(c, -1)) for line, contexts in by_line.items()
        }
    Path(mutmut_config.MAP_FILE).write_text(json.dumps({"inputs": inputs_hash(), "order": order, "lines": lines}))
    return 0


def ensure_map(env: dict) -> None:
    from bench import mutmut_config

    map_file = TREE / mutmut_config.MAP_FILE
    command = [sys.executable, "-c", "from bench.mutate import inputs_hash; print(inputs_hash())"]
    current = subprocess.run(command, cwd=TREE, env=env, check=True, capture_output=True, text=True).stdout.strip()
    if map_file.exists() and json.loads(map_file.read_text()).get("inputs") == current:
        return
    print("Recording which tests run each line of the mutated modules (one run under coverage)…")
    if subprocess.run([sys.executable, "-m", "bench.mutate", "--map"], cwd=TREE, env=env, check=False).returncode:
        sys.exit(1)


def mutmut_command(target: str | None) -> list[str]:
    from bench import mutmut_config

    runner = " ".join([sys.executable, "-m", "bench.mutate", "--pytest", *mutmut_config.all_tests()])
    command = [
        sys.executable,
        "-m",
        "mutmut",
        "run",
        "--paths-to-mutate",
        ",".join(mutmut_config.MODULES),
        "--tests-dir",
        mutmut_config.TESTS_DIR,
        "--runner",
        runner,
        "--simple-output",
    ]
    return [*command, target] if target else command


def check_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench.mutate needs PostgreSQL (the concurrency tests are part of every selection): "
            "set DATABASE_URL=postgres://…"
        )


def report(min_score: float) -> int:
    """Per-module score from mutmut's cache in the tree; the survivors with their diff."""
    command = [sys.executable, "-m", "bench.mutate", "--score", str(min_score)]
    return subprocess.run(command, cwd=TREE, check=False).returncode


def score(min_score: float) -> int:
    """Runs inside the tree (mutmut's cache and `mutmut_config` are found from the cwd)."""
    from mutmut import Context, list_mutations
    from mutmut.cache import cached_mutation_status, hash_of_tests

    from bench import mutmut_config

    tests_hash = hash_of_tests([mutmut_config.TESTS_DIR])
    totals = {"killed": 0, "survived": 0, "equivalent": 0, "untested": 0}
    lines = []
    survivors = []
    for module in mutmut_config.MODULES:
        source = Path(module).read_text()
        counts = dict.fromkeys(totals, 0)
        for mutation_id in list_mutations(Context(source=source, filename=module)):
            status = cached_mutation_status(module, mutation_id, tests_hash)
            before, after = mutmut_config.mutant_lines(module, source, mutation_id)
            if mutmut_config.equivalent_reason(module, source, mutation_id):
                counts["equivalent"] += 1
            elif status in ("ok_killed", "ok_suspicious", "bad_timeout"):
                counts["killed"] += 1
            elif status == "bad_survived":
                counts["survived"] += 1
                survivors.append(f"  {module}:{mutation_id.line_number + 1}\n    - {before}\n    + {after}")
            else:
                counts["untested"] += 1
        for key, value in counts.items():
            totals[key] += value
        lines.append(_score_line(module, counts))
    lines.append(_score_line("total", totals))
    print("\nMutation score (killed / mutants that are not equivalent):")
    print("\n".join(lines))
    if survivors:
        print(f"\nSurviving mutants ({len(survivors)}):")
        print("\n".join(survivors))
    stale = mutmut_config.unused_equivalents()
    if stale:
        print("\nEquivalent-mutant entries that match no mutant any more (remove or update them):")
        print("\n".join(f"  {module}: {before!r} -> {after!r}" for module, before, after in stale))
    tested = totals["killed"] + totals["survived"]
    total_score = 100 * totals["killed"] / tested if tested else 0.0
    if totals["untested"]:
        print(f"\n{totals['untested']} mutant(s) untested: run `make mutate` again.")
        return 1
    return 0 if total_score >= min_score else 1


def _score_line(name: str, counts: dict) -> str:
    tested = counts["killed"] + counts["survived"]
    percent = 100 * counts["killed"] / tested if tested else 0.0
    extra = f", {counts['untested']} untested" if counts["untested"] else ""
    return (
        f"  {name:34} {counts['killed']:4} / {tested:4}  {percent:5.1f}%"
        f"   ({counts['equivalent']} equivalent skipped{extra})"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--pytest"]:
        return run_pytest(argv[1:])
    if argv == ["--map"]:
        return build_map()
    parser = argparse.ArgumentParser(prog="python -m bench.mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", help="one module to mutate, or a mutant id from `mutmut results`")
    parser.add_argument("--fresh", action="store_true", help="forget the cached results")
    parser.add_argument("--report", action="store_true", help="print the score of the last run only")
    parser.add_argument("--without", action="append", default=[], metavar="PATH", help="leave a test file out")
    parser.add_argument("--min-score", type=float, default=90.0, help="exit 1 below this total score (percent)")
    parser.add_argument("--score", type=float, help=argparse.SUPPRESS)  # the report, run inside the tree
    args = parser.parse_args(argv)
    if args.score is not None:
        return score(args.score)
    if not args.report:
        check_database()
        if args.fresh:
            (TREE / CACHE).unlink(missing_ok=True)
        sync_tree(args.without)
        env = {**os.environ, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "true")}
        ensure_map(env)
        code = subprocess.run(mutmut_command(args.target), cwd=TREE, env=env, check=False).returncode
        if code & 1:  # mutmut's own failure (the bits 2/4/8 only say that some mutants survived)
            print(f"mutmut failed (exit status {code})", file=sys.stderr)
            return 1
    elif not (TREE / CACHE).exists():
        sys.exit("No mutation run yet: run `make mutate` first.")
    else:  # the current list of equivalent mutants applies to the last run's results
        shutil.copy2(ROOT / "bench" / "mutmut_config.py", TREE / "bench" / "mutmut_config.py")
    return report(args.min_score)


if __name__ == "__main__":
    sys.exit(main())
