"""Benchmarks and test-set generators; a package so tests import the scoring metrics normally."""
