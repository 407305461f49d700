"""``manage.py import_items FILE``: consumable items with optional opening stock; see
itassets.importing.command and itassets.importing.items."""

from itassets.importing.command import ImportCommand


class Command(ImportCommand):
    kind = "items"
