"""``manage.py import_people FILE``: see itassets.importing.command."""

from itassets.importing.command import ImportCommand


class Command(ImportCommand):
    kind = "people"
