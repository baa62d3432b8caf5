"""Benchmark harness: set Django up against the configured database, time a
candidate against a raw baseline in the same run, report the ratio.

Absolute times depend on the machine; the ratio against a baseline measured
seconds earlier on the same machine does not (much), so targets are ratios.
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deelrx.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_bytes: int


def measure(name: str, func: Callable[[], object], *, repeat: int = 5) -> Measurement:
    """Median wall time over `repeat` runs, and the peak traced memory of one run."""
    func()  # warm caches and connections
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Measurement(name, statistics.median(times), peak)


def report(title: str, candidate: Measurement, baseline: Measurement, *, target_ratio: float) -> bool:
    ratio = candidate.seconds / baseline.seconds if baseline.seconds else float("inf")
    mem_ratio = candidate.peak_bytes / baseline.peak_bytes if baseline.peak_bytes else float("inf")
    ok = ratio <= target_ratio
    print(f"## {title}")
    for label, m in (("baseline ", baseline), ("candidate", candidate)):
        print(f"  {label} {m.name:<40} {m.seconds * 1000:9.2f} ms  peak {m.peak_bytes / 1024:9.1f} KiB")
    verdict = "OK" if ok else "OVER TARGET"
    print(f"  time ratio {ratio:.2f} (target <= {target_ratio}) {verdict}; memory ratio {mem_ratio:.2f}")
    return ok
