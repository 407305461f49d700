"""Models of the inventory app (added by its issue)."""
