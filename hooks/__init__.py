"""Training-side logging hooks."""
