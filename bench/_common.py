"""Shared plumbing of the bench scripts: argument parsing and the one-line summary format.

Every script prints one line per case: `case=<name> n=<n> <metric>=<value> ...`.
"""

import argparse
import time
from collections.abc import Callable, Sequence

DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)


def sizes_from_args(description: str, default: Sequence[int] = DEFAULT_SIZES) -> list[int]:
    """Parse `--n N` (one size); without it, the script's default sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, help="run only this size")
    args = parser.parse_args()
    return [args.n] if args.n else list(default)


def report(case: str, n: int, **metrics: float | int | str) -> None:
    """Print one summary line."""
    parts = [f"case={case}", f"n={n}"]
    for key, value in metrics.items():
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    print(" ".join(parts), flush=True)


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
