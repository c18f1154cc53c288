"""Benchmarks: each module has `measure(seconds) -> dict` of JSON-ready figures.

Timing lives here and in `meterhub bench`, never in the test suite.
"""
