"""Pages of the inventory app: one module per area (items, documents, stock); the JSON
endpoints for scanners stay in ``inventory.views_api``."""
