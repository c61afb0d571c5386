"""Benchmarks (``make bench``): each ``bench_*.py`` exposes ``run() -> list[dict]``."""
