"""Default reminder rules and the beat schedule (reminder scan every 15 minutes, retry sweeper
and heartbeat every minute, weekly digest on Monday 08:00). See notifications/defaults.py."""

from django.db import migrations


def forwards(apps, schema_editor):
    from notifications.defaults import install

    install(apps=apps)


def backwards(apps, schema_editor):
    from notifications.defaults import PERIODIC_TASKS

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[name for name, *_rest in PERIODIC_TASKS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
