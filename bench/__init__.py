"""Benchmarks: ``python -m bench.ussd`` (``make bench``). See docs/benchmarks.md."""
