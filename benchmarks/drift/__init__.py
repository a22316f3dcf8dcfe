"""`make bench-drift`: drift scenarios fed through the running system's public interfaces.

    python -m benchmarks.drift [--rows 30000] [--only NAME ...] [--family auto]
                               [--json bench-results/drift.json]

scenarios.py holds the streams, run.py runs one through a fresh stack, __main__.py the table.
"""
