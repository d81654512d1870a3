"""Benchmarks: each prints the project's rate, a raw limit measured in the same run, and the ratio."""
