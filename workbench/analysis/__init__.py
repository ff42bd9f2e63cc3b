"""Analyses over measured variants: Pareto fronts, recommendations (pure), sensitivity (LiteRT)."""
