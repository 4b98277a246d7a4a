"""Benchmarks: each prints its figure and its ratio to a reference measured in the same run."""
