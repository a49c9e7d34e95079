"""langevin package."""
