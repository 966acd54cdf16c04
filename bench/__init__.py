"""Paycheck's benchmarks: the cost of a check, measured against baselines in the same run.

Each module is a plain script that prints a small table (``python -m bench.asgi_overhead``,
``--quick`` for tiny sizes); ``python -m bench`` runs them all and can write the combined
tables as markdown (``--markdown PATH``). The results and how to reproduce them are in
``docs/benchmarks.md``.
"""
