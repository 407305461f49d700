"""``manage.py send_test_notification --channel dingtalk --to <username>``: send one test
message now (not through the queue) and report the outcome, to check a configuration."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from notifications import services
from notifications.models import Channel, Delivery, Robot


class Command(BaseCommand):
    help = "Send a test notification over one channel to one user and report the outcome."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument("--to", required=True, metavar="USERNAME")
        parser.add_argument(
            "--robot", type=int, help="Robot id (default: the robot that posts for the user)"
        )

    def handle(self, *args, channel, to, robot=None, **options):
        user = get_user_model().objects.filter(username=to).first()
        if user is None:
            raise CommandError(f"No user named {to!r}.")
        robot_obj = None
        if robot is not None:
            robot_obj = Robot.objects.filter(pk=robot, kind=channel).first()
            if robot_obj is None:
                raise CommandError(f"No {channel} robot with id {robot}.")
        try:
            delivery = services.test_message_send(user=user, channel=channel, robot=robot_obj)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if delivery.status != Delivery.Status.SENT:
            raise CommandError(f"{channel} to {to}: {delivery.status}: {delivery.last_error}")
        self.stdout.write(self.style.SUCCESS(f"{channel} to {to}: sent (delivery {delivery.pk})"))
