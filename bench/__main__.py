"""Run every benchmark: `python -m bench` (or `make bench`)."""

import importlib
import pkgutil
import sys
from pathlib import Path

from bench.harness import setup_django


def main() -> int:
    setup_django()
    failures = 0
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not module.name.startswith("bench_"):
            continue
        bench = importlib.import_module(f"bench.{module.name}")
        if not bench.main():
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
