"""Run every benchmark in turn: ``python benchmarks/run_all.py [--quick]``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_lesions.py", "bench_autosave.py", "bench_load.py")


def main() -> int:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    for name in BENCHMARKS:
        print(f"\n== {name} ==", flush=True)
        code = subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]], env=env)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
