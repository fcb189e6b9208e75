"""Benchmarks: the service against the machine's floor, measured in one interleaved run.

Run ``python -m bench`` from the repository root after the README install.
"""
