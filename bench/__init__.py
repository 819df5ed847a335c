"""Benchmarks (`make bench`): the pipeline against a raw floor measured in the same run on the same database."""
