"""A stopwatch for benchmarks: repeated calls, median and percentiles, query counts."""

import math
import statistics
import time
from collections.abc import Callable
from typing import Any


def timings_ms(fn: Callable[[], Any], *, repeat: int, warmup: int = 5) -> list[float]:
    """Wall time of ``repeat`` calls of ``fn`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    result = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        result.append((time.perf_counter() - started) * 1000)
    return result


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


def backend_cpu_seconds() -> float | None:
    """CPU seconds the PostgreSQL backend serving this connection has used (``None`` if not on this host)."""
    import os

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, fields 14 and 15 of proc(5), counted after the ")" that ends the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_queries(fn: Callable[[], Any]) -> tuple[int, list[str]]:
    """How many SQL queries one call of ``fn`` makes on the default database, and their text."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


def row(benchmark: str, value: float | int | str, unit: str, target: str = "", notes: str = "",
        ok: bool | None = None) -> dict:
    """One line of the benchmark table."""
    return {"benchmark": benchmark, "value": value, "unit": unit, "target": target, "notes": notes, "ok": ok}
