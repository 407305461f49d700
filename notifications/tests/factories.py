"""factory_boy factories of the notifications models."""

import factory
from django.utils import timezone

from notifications.models import Channel, Delivery, Notification, Robot


class RobotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Robot

    name = factory.Sequence(lambda n: f"机器人{n}")
    kind = Channel.DINGTALK
    url = "http://127.0.0.1:9/robot/send?access_token=x"
    is_default = True


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    recipient = None
    channel = Channel.IN_APP
    event_type = "test"
    dedup_key = factory.Sequence(lambda n: f"test:{n}")
    payload = factory.LazyFunction(lambda: {"subject": "测试", "body": "", "link": ""})

    class Params:
        sent = factory.Trait(
            status=Delivery.Status.SENT, sent_at=factory.LazyFunction(timezone.now)
        )
        failed = factory.Trait(status=Delivery.Status.FAILED, attempts=1, last_error="boom")
        given_up = factory.Trait(status=Delivery.Status.GIVEN_UP, attempts=5)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    title = factory.Sequence(lambda n: f"通知{n}")
    body = "正文"
    link = "/assets/"
