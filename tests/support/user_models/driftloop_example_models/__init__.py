"""Example entry points for driftloop's trainer (see credit.py and broken.py)."""
