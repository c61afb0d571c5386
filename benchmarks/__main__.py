"""``python -m benchmarks [name …] [--markdown] [--json FILE]``: run the benchmark modules, print one table.

Every ``benchmarks/bench_*.py`` is found and run (or only the ones named: ``engine`` or
``bench_engine``), each in its own process, since each points Django at its own database.
Exit status 1 when a module fails.
"""

import argparse
import json
import pkgutil
import subprocess
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

import benchmarks

COLUMNS = ("benchmark", "value", "unit", "target", "ok", "notes")


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))


def select(names: list[str]) -> list[str]:
    available = discover()
    if not names:
        return available
    chosen = []
    for name in names:
        module = name if name.startswith("bench_") else f"bench_{name}"
        if module not in available:
            sys.exit(f"No benchmark {name!r}; available: {', '.join(m.removeprefix('bench_') for m in available)}")
        chosen.append(module)
    return chosen


def run_child(module: str, out: str) -> None:
    """In the child process: run one module and write its rows as JSON to ``out``."""
    rows = import_module(f"benchmarks.{module}").run()
    for row in rows:
        missing = {"benchmark", "value", "unit", "target", "notes"} - row.keys()
        if missing:
            raise ValueError(f"{module}: row {row!r} lacks {sorted(missing)}")
    Path(out).write_text(json.dumps(rows, ensure_ascii=False, default=str))


def run_module(module: str) -> tuple[list[dict], bool]:
    """Run ``module`` in a new process; its progress goes to this terminal, its rows come back as JSON."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.monotonic()
        print(f"== {module}", flush=True)
        result = subprocess.run([sys.executable, "-m", "benchmarks", "--child", module, "--out", out.name])
        print(f"== {module}: {time.monotonic() - started:.0f} s", flush=True)
        if result.returncode != 0:
            return [{"benchmark": module, "value": "FAILED", "unit": "", "target": "", "notes":
                     f"exit status {result.returncode}, see the output above", "ok": False}], False
        return json.loads(Path(out.name).read_text()), True


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    if value is True:
        return "yes"
    if value is False:
        return "NO"
    return "" if value is None else str(value)


def table(rows: list[dict], markdown: bool) -> str:
    cells = [[fmt(row.get(col)) for col in COLUMNS] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(col), *(len(c[i]) for c in cells)) for i, col in enumerate(COLUMNS)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(COLUMNS), line("-" * w for w in widths), *(line(c) for c in cells)])


def machine() -> str:
    """One line describing where the figures come from: CPUs, memory, load, Python, PostgreSQL."""
    import os
    import platform

    model = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal")), 0)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip() or "psql not found"
    return (f"{os.cpu_count()} CPUs ({model}), {mem_kb / 1024 / 1024:.0f} GiB, load average {load}; "
            f"Python {platform.python_version()}; {postgres}")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for BENCHMARKS.md)")
    parser.add_argument("--json", metavar="FILE", help="also write all rows to FILE as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.out)
        return
    print(machine(), flush=True)
    rows, all_ok = [], True
    for module in select(args.names):
        module_rows, ok = run_module(module)
        rows += module_rows
        all_ok &= ok
    print()
    print(machine())
    print(table(rows, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
