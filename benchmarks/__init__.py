"""Reproducible benchmarks for otel_context; every figure is a ratio measured within one run.

Run ``python -m benchmarks.run`` (or ``make bench``) from the repository root; the results
are written to ``benchmarks/RESULTS.md``.
"""
