"""Benchmark harness: set Django up against the configured database, time a
candidate against a raw baseline in the same run, report the ratio.

Absolute times depend on the machine; the ratio against a baseline measured
seconds earlier on the same machine does not (much), so targets are ratios.

`BENCH_SCALE` (set by `python -m bench --scale S`, default 1.0) multiplies the
data sizes of the benchmarks that read it: `scale(100_000)`.
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

SCALE_VARIABLE = "BENCH_SCALE"


def bench_scale() -> float:
    """The factor of `BENCH_SCALE` (1.0 when unset); a malformed or non-positive value is an error."""
    raw = os.environ.get(SCALE_VARIABLE, "").strip() or "1"
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_VARIABLE} must be a positive number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{SCALE_VARIABLE} must be a positive number, got {raw!r}")
    return value


def scale(n: int) -> int:
    """`n` times `BENCH_SCALE`, rounded, at least 1."""
    return max(1, round(n * bench_scale()))


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


def measure_pair(
    first: tuple[str, Callable[[], object]], second: tuple[str, Callable[[], object]], *, repeat: int = 5
) -> tuple[Measurement, Measurement]:
    """`measure` for two callables whose times are compared: their runs
    alternate (first, second, first, …), so a machine that gets busier or
    quieter during the measurement weighs on both alike."""
    (first_name, first_func), (second_name, second_func) = first, second
    first_func()
    second_func()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for bucket, func in zip(times, (first_func, second_func), strict=True):
            started = time.perf_counter()
            func()
            bucket.append(time.perf_counter() - started)
    peaks = []
    for func in (first_func, second_func):
        tracemalloc.start()
        func()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return (
        Measurement(first_name, statistics.median(times[0]), peaks[0]),
        Measurement(second_name, statistics.median(times[1]), peaks[1]),
    )


def report(
    title: str, candidate: Measurement, baseline: Measurement, *, target_ratio: float, n: int | None = None
) -> bool:
    """Time ratio candidate/baseline against `target_ratio` (lower is better).
    `n`: how many runs each median is taken over (printed); the measure default when omitted."""
    ratio = candidate.seconds / baseline.seconds if baseline.seconds else float("inf")
    measured_memory = bool(candidate.peak_bytes or baseline.peak_bytes)
    mem_ratio = candidate.peak_bytes / baseline.peak_bytes if baseline.peak_bytes else float("inf")
    ok = ratio <= target_ratio
    print(f"## {title}")
    for label, m in (("baseline ", baseline), ("candidate", candidate)):
        peak = f"  peak {m.peak_bytes / 1024:9.1f} KiB" if measured_memory else ""
        print(f"  {label} {m.name:<40} {m.seconds * 1000:9.2f} ms{peak}")
    verdict = "OK" if ok else "OVER TARGET"
    runs = f"; N = {n} runs" if n is not None else ""
    memory = f"memory ratio {mem_ratio:.2f}" if measured_memory else "memory not measured"
    print(f"  time ratio {ratio:.2f} (target <= {target_ratio}) {verdict}; {memory}{runs}")
    return ok


@dataclass
class Rate:
    """A throughput: `count` operations completed in `seconds`."""

    name: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def report_rate(title: str, project: Rate, baseline: Rate, *, target_ratio: float, unit: str = "op/s") -> bool:
    """Throughput ratio project/baseline against `target_ratio` (higher is better)."""
    ratio = project.per_second / baseline.per_second if baseline.per_second else 0.0
    ok = ratio >= target_ratio
    print(f"## {title}")
    for label, rate in (("baseline", baseline), ("project ", project)):
        print(f"  {label} {rate.name:<52} {rate.per_second:9.1f} {unit}  (N = {rate.count:,} in {rate.seconds:.1f} s)")
    verdict = "OK" if ok else "UNDER TARGET"
    print(f"  rate ratio {ratio:.3f} (target >= {target_ratio}) {verdict}")
    return ok
