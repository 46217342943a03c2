"""Benchmarks: each module has main() and prints its figures; `python -m bench` runs them all."""
