"""Run every benchmark in turn: ``scripts/dev.sh bench [--quick]`` (under Xvfb)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "bench_lesions.py",
    "bench_autosave.py",
    "bench_desk.py",
    "bench_cases.py",
    "bench_delineation.py",
    "bench_seed000.py",
    "bench_server.py",
)


def main() -> int:
    for name in BENCHMARKS:  # the viewer benchmarks need a display: dev.sh gives Xvfb
        print(f"\n== {name} ==", flush=True)
        code = subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
