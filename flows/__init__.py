"""Prefect flows: they only put stages and gates in order. DVC owns the graph and the cache."""
