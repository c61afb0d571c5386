"""Benchmarks: ``make bench`` (``python -m benchmarks [name …]``) runs every ``bench_*.py`` here.

A benchmark module exposes ``run() -> list[dict]``; each row has the keys ``benchmark``,
``value``, ``unit``, ``target``, ``notes`` (and optionally ``ok``: whether the target is
met). Each module runs in its own process against its own PostgreSQL database, set up
by ``benchmarks._db.setup_django``; ``benchmarks._timing`` holds the shared stopwatch.
Figures worth keeping go to ``BENCHMARKS.md``.
"""
