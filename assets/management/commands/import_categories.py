"""``manage.py import_categories FILE``: see itassets.importing.command."""

from itassets.importing.command import ImportCommand


class Command(ImportCommand):
    kind = "categories"
