"""Eval datasets, scorer, report and benchmarks."""
