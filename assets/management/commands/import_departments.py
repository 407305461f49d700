"""``manage.py import_departments FILE``: see itassets.importing.command."""

from itassets.importing.command import ImportCommand


class Command(ImportCommand):
    kind = "departments"
