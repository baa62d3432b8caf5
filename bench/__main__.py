"""Run the benchmarks: `python -m bench [--scale S] [NAME ...]` (or `make bench`).

Each benchmark runs in its own process (`python -m bench --run-one NAME`), one
after the other, so that one that fails, crashes (its traceback is printed),
hangs past `--timeout` or leaves a connection or a setting in a bad state
cannot stop or skew the others. Its database sessions carry its name
(`PGAPPNAME=bench:NAME`, inherited by what it starts); any still open when it
ends (a statement of a killed process runs on, holding its locks) are ended
before the next benchmark starts. A benchmark that misses its target, crashes
or times out counts as a miss; the exit status is 1 if any missed.

NAME selects benchmarks by module name, with or without the `bench_` prefix;
a prefix selects every benchmark it starts: `credit` runs all the credit ones,
`credit_charge` the HTTP charge benchmark. `--scale` is exported to the
benchmarks as `BENCH_SCALE` (they multiply their data sizes by it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import secrets
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench.harness import SCALE_VARIABLE, bench_scale, setup_django

DEFAULT_TIMEOUT = 600.0  # seconds per benchmark
KILL_GRACE = 120.0  # after SIGTERM, for the benchmark's clean-up (dropping its data) before SIGKILL

EXIT_OK, EXIT_MISS, EXIT_CRASH = 0, 1, 2


def discover() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")]
    return sorted(names)


def select(available: list[str], wanted: list[str]) -> list[str]:
    if not wanted:
        return available
    chosen: list[str] = []
    for raw in wanted:
        name = raw if raw.startswith("bench_") else f"bench_{raw}"
        name = name.removesuffix(".py")
        matches = [m for m in available if m == name] or [m for m in available if m.startswith(name)]
        if not matches:
            raise ValueError(f"no benchmark matches {raw!r}; available: {', '.join(available)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _stop_on_sigterm(signum, frame):
    # the runner's timeout: unwind, so the benchmark's `finally` removes the data it made
    raise SystemExit(f"stopped by signal {signum} (timeout)")


def run_one(name: str) -> int:
    """Child mode: set Django up, run one benchmark's main(); the exit status says how it went."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        setup_django()
        module = importlib.import_module(f"bench.{name}")
        ok = module.main()
    except BaseException:  # a crash is a result too: print it and say so
        traceback.print_exc()
        sys.stdout.flush()
        return EXIT_CRASH
    sys.stdout.flush()
    return EXIT_OK if ok else EXIT_MISS


def _kill_group(process: subprocess.Popen) -> None:
    """End the benchmark's process group (it and whatever it started, e.g. gunicorn):
    SIGTERM, time to clean up, then SIGKILL for anything left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=KILL_GRACE)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    _sweep_group(process)


def _sweep_group(process: subprocess.Popen) -> None:
    """SIGKILL whatever the benchmark started and left running (its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait()


PRODUCTION_SERVED = ("bench_credit_charge_http",)  # run a server with the production settings


def _production_static_files() -> None:
    """The production settings serve static files through a manifest that
    `collectstatic` writes (the image's build runs it), and the URLconf resolves
    a static file as it loads: a server started without the manifest answers 500
    to everything. Build it when it is missing or older than a static source
    file (compressing every file costs about a CPU minute, so not every run)."""
    from django.apps import apps
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    sources = [Path(d) for d in settings.STATICFILES_DIRS]
    sources += [Path(app.path) / "static" for app in apps.get_app_configs()]
    base = Path(settings.BASE_DIR).resolve()
    newest = max(
        (f.stat().st_mtime for d in sources if base in d.resolve().parents for f in d.rglob("*") if f.is_file()),
        default=0.0,
    )
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return
    print("building the production static files (collectstatic, as the image does) ...", flush=True)
    env = {**os.environ, "DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    env.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=base, env=env, check=False
    )
    if done.returncode:
        print(f"  collectstatic failed (exit {done.returncode}); a production-served benchmark will fail", flush=True)


def app_name(name: str) -> str:
    """The database application name of a benchmark's sessions (and the prefix of its children's)."""
    return f"bench:{name}"


def _sessions_end(name: str) -> int:
    """End the database sessions a benchmark left behind: a process killed in the
    middle of a statement leaves its server session running it, locks held (the
    next benchmark then waited on a killed one's bulk DELETE). Returns how many."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    app = app_name(name)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND (application_name = %s OR starts_with(application_name, %s))",
                [app, f"{app}-"],
            )
            return cursor.fetchone()[0]
    except Exception as exc:  # the clean-up of one benchmark must not stop the suite
        print(f"  (could not end the database sessions of {name}: {exc})", flush=True)
        return 0
    finally:
        connection.close()


def run_child(name: str, *, timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "--run-one", name],
        start_new_session=True,
        env={**os.environ, "PGAPPNAME": app_name(name)},
    )
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        _sessions_end(name)
        return f"TIMEOUT after {timeout:.0f} s", time.monotonic() - started
    except BaseException:
        _kill_group(process)
        _sessions_end(name)
        raise
    elapsed = time.monotonic() - started
    _sweep_group(process)
    _sessions_end(name)
    if code == EXIT_OK:
        return "ok", elapsed
    if code == EXIT_MISS:
        return "MISSED target", elapsed
    if code == EXIT_CRASH:
        return "CRASHED (traceback above)", elapsed
    how = f"signal {-code}" if code < 0 else f"exit status {code}"
    return f"CRASHED ({how})", elapsed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--scale", type=float, default=None, help=f"data-size factor, exported as {SCALE_VARIABLE} (default 1.0)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds before one benchmark is stopped and missed"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--run-one", metavar="NAME", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.run_one:
        return run_one(args.run_one)
    if args.scale is not None:
        os.environ[SCALE_VARIABLE] = repr(args.scale)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    try:
        factor = bench_scale()  # validates the variable before anything runs
        chosen = select(available, args.names)
    except ValueError as exc:
        parser.error(str(exc))
    setup_django()  # migrate once, before the benchmarks (each child only checks)
    if any(name in PRODUCTION_SERVED for name in chosen):
        _production_static_files()
    from django.db import connections

    connections.close_all()
    results = []
    suite_started = time.monotonic()
    for name in chosen:
        print(f"\n=== {name} ({SCALE_VARIABLE}={factor:g})", flush=True)
        outcome, elapsed = run_child(name, timeout=args.timeout)
        print(f"=== {name}: {outcome} in {elapsed:.1f} s", flush=True)
        results.append((name, outcome, elapsed))
    missed = [name for name, outcome, _ in results if outcome != "ok"]
    print(f"\n## Summary ({SCALE_VARIABLE}={factor:g}, {time.monotonic() - suite_started:.0f} s)")
    for name, outcome, elapsed in results:
        print(f"  {name:<36} {outcome:<32} {elapsed:7.1f} s")
    print(f"  {len(results) - len(missed)} ok, {len(missed)} missed" + (f": {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
