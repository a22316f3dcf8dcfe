"""CPU seconds a process has used (user + system, every thread), from /proc.

The servers' throughput under wrk is wall time, and moves with whatever else runs on the
machine; the CPU each request cost the server moves much less, so the benchmarks report both.
"""

from __future__ import annotations

import os


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` so far (Linux; clock-tick resolution, 10 ms)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()  # after the command name
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
