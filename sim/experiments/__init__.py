"""Experiments and analysis: collecting run folders, paired comparisons, sweep support."""
