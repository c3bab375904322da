"""Plots and analyses of finished runs (the paper's figures)."""
