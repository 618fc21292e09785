"""Shared plumbing of the benchmarks: the standard stream (cached), its expected end state and
the baselines in ../shared/bench built in the same run."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

# The benchmarks do no linear algebra; numpy's OpenBLAS would otherwise start worker threads
# that spin beside the engines being timed (seen in perf on the 2-core machine). Set before
# numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"


def shared_bench_dir() -> Path:
    """The benchmark kit: $PERPSIM_SHARED_BENCH, else ../shared/bench beside the repository."""
    env = os.environ.get("PERPSIM_SHARED_BENCH")
    path = Path(env) if env else ROOT.parent / "shared" / "bench"
    if not (path / "orderstream.py").is_file():
        raise SystemExit(f"benchmark kit not found at {path} (set PERPSIM_SHARED_BENCH)")
    return path


def orderstream_module():
    kit = str(shared_bench_dir())
    if kit not in sys.path:
        sys.path.insert(0, kit)
    import orderstream  # noqa: PLC0415 - the kit is outside the package on purpose

    return orderstream


def standard_stream(n: int = 1_000_000, seed: int | None = None) -> tuple[Path, np.ndarray, dict]:
    """Generate (once, cached) the standard stream; return (path, messages, expected)."""
    os_mod = orderstream_module()
    seed = os_mod.DEFAULTS["seed"] if seed is None else seed
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"orders_{n}_{seed}.bin"
    meta = Path(str(path) + ".json")
    if not (path.is_file() and meta.is_file()):
        msgs, expected = os_mod.generate(n, seed)
        msgs.tofile(path)
        meta.write_text(json.dumps(expected, indent=1))
    msgs = np.fromfile(path, dtype=os_mod.MSG_DTYPE)
    return path, msgs, json.loads(meta.read_text())


END_STATE_KEYS = ("trades", "traded_qty", "resting_orders", "resting_qty", "best_bid", "best_ask",
                  "checksum")


def book_summary(book, trades: int, traded_qty: int) -> dict:
    """End state of a matching.Book / RefBook in the kit's summary format."""
    os_mod = orderstream_module()
    live = list(book.iter_orders())
    return dict(trades=trades, traded_qty=traded_qty, resting_orders=len(live),
                resting_qty=sum(q for _, q, _ in live), best_bid=book.best_bid(),
                best_ask=book.best_ask(), checksum=os_mod.state_checksum(live))


def end_state_matches(summary: dict, expected: dict) -> bool:
    return all(summary.get(k) == expected.get(k) for k in END_STATE_KEYS)


def median(xs) -> float:
    return float(statistics.median(xs))


def run_cpp_baseline(stream: Path, runs: int, mode: str = "array") -> dict:
    """Compile ../shared/bench/cppbook.cpp (g++ -O2, as the kit says) and run it."""
    kit = shared_bench_dir()
    exe = CACHE / "cppbook"
    src = kit / "cppbook.cpp"
    if not exe.is_file() or exe.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["g++", "-O2", "-std=c++17", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe), str(stream), mode, str(runs)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_floor_baseline(stream: Path, runs: int) -> dict:
    """Build the kit's no-op Cython book (cythonize -i -3) in the cache and run its bench."""
    kit = shared_bench_dir()
    work = CACHE / "pyfloor"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("pyfloor.pyx", "pyfloor_bench.py", "orderstream.py"):
        shutil.copy2(kit / name, work / name)
    if not list(work.glob("pyfloor*.so")):
        subprocess.run([sys.executable, "-c",
                        "from Cython.Build.Cythonize import main; main(['-i', '-3', 'pyfloor.pyx'])"],
                       cwd=work, check=True, capture_output=True)
    out = subprocess.run([sys.executable, str(work / "pyfloor_bench.py"), str(stream), str(runs),
                          str(work)], check=True, capture_output=True, text=True, cwd=work).stdout
    return json.loads(out.strip().splitlines()[-1])
