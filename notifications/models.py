"""Models of the notifications app (added by its issue)."""
