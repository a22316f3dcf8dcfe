"""`make bench-drift`: drift scenarios fed through the running system's public interfaces.

    python -m benchmarks.drift [--rows 30000] [--only NAME ...] [--family auto]
                               [--json bench-results/drift.json]

scenarios.py holds the streams, run.py runs one through a fresh stack, __main__.py the table.
"""

import os

# HistGradientBoosting's OpenMP threads on a busy 2-core machine made one 4,000-row fit take
# 208 s instead of 8 s: every process of the bench (and of its stacks) fits on one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
