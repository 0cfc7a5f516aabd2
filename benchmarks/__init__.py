"""Benchmarks and the per-agent reference model (not part of the ``sim`` package).

Run ``python -m benchmarks.suite --help`` for the benchmark suite and
``python -m benchmarks.exactness`` for the bit-identity check of the engine.
"""
