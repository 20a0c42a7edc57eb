"""Corpus data: the canonical clip table, frame files and the readers of each corpus."""
