"""Chaos harness: load over both doors, faults injected for real, an independent checker.

`python -m bench.chaos --help`; the bounded CI version is tests/e2e/test_chaos.py.
"""
