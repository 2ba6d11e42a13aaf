"""Benchmarks of the write and read paths; run with ``python -m benchmarks.run``."""
