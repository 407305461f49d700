"""Requisition notifications (inventory/notify.py): every step tells the people it concerns
in-app, once: submitted → the department head; approved → the requester and the keepers who
can issue it; rejected → the requester; (partly) issued → the requester, per issue."""

import pytest

from assets.tests.org import make_org
from inventory import services, signals
from inventory.models import Requisition
from notifications.models import Delivery, Notification

from .conftest import receive
from .factories import ItemFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(make_user):
    return make_org(make_user)


@pytest.fixture
def stocked(keeper, warehouse, item):
    return receive(keeper, warehouse, item, 10, "80.00")


def in_app(event_type) -> list[tuple[int, str]]:
    return sorted(Notification.objects.filter(event_type=event_type).values_list("user_id", "link"))


def submit(org, item, quantity=3):
    return services.requisition_submit(
        actor=org.tester, lines=[{"item": item, "quantity": quantity}], reason="打印机换硒鼓"
    )


def test_each_step_tells_the_people_it_concerns(
    org, stocked, keeper, warehouse, make_user, django_capture_on_commit_callbacks
):
    # given: another keeper whose warehouse holds no toner
    idle_keeper = make_user("keeper")
    WarehouseFactory(keepers=[idle_keeper])

    # when: an employee of 测试部 submits
    with django_capture_on_commit_callbacks(execute=True):
        requisition = submit(org, stocked)
    detail = f"/inventory/requisitions/{requisition.pk}/"

    # then: the head of 研发中心 (above 测试部, which has no head) is asked
    assert in_app("requisition_waiting") == [(org.head.pk, "/inventory/requisitions/approvals/")]
    waiting = Notification.objects.get(event_type="requisition_waiting")
    assert f"#{requisition.pk}" in waiting.title and "赵六" in waiting.title
    assert "打印机换硒鼓" in waiting.body

    # when: the head approves
    with django_capture_on_commit_callbacks(execute=True):
        services.requisition_decide(
            requisition=requisition, actor=org.head, approve=True, comment="同意"
        )

    # then: the requester hears it, and the keeper who holds toner is asked to issue
    assert in_app("requisition_decided") == [(org.tester.pk, detail)]
    assert Notification.objects.get(event_type="requisition_decided").body == "同意"
    assert in_app("requisition_to_issue") == [(keeper.pk, f"{detail}fulfil/")]

    # when: the keeper issues 1, then the remaining 2
    with django_capture_on_commit_callbacks(execute=True):
        first = services.requisition_fulfil(
            requisition=requisition, actor=keeper, warehouse=warehouse, lines={stocked.pk: 1}
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = services.requisition_fulfil(
            requisition=requisition, actor=keeper, warehouse=warehouse
        )

    # then: the requester hears of each issue, with what and where
    issued = Notification.objects.filter(event_type="requisition_issued").order_by("id")
    assert [(n.user_id, n.link) for n in issued] == [(org.tester.pk, detail)] * 2
    assert first.document.number in issued[0].body
    assert second.document.number in issued[1].body
    assert f"{stocked} × 2 盒" in issued[1].body


def test_a_rejection_tells_the_requester_why(org, item, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        requisition = submit(org, item)
    with django_capture_on_commit_callbacks(execute=True):
        services.requisition_decide(
            requisition=requisition, actor=org.head, approve=False, comment="本月预算已用完"
        )

    assert in_app("requisition_decided") == [
        (org.tester.pk, f"/inventory/requisitions/{requisition.pk}/")
    ]
    assert Notification.objects.get(event_type="requisition_decided").body == "本月预算已用完"
    assert not Notification.objects.filter(event_type="requisition_to_issue").exists()


def test_every_keeper_is_asked_when_no_warehouse_holds_the_items(
    org, keeper, warehouse, django_capture_on_commit_callbacks
):
    unstocked = ItemFactory()
    with django_capture_on_commit_callbacks(execute=True):
        requisition = submit(org, unstocked)
        services.requisition_decide(requisition=requisition, actor=org.head, approve=True)

    assert [u for u, _link in in_app("requisition_to_issue")] == [keeper.pk]


def test_a_signal_sent_twice_announces_once(org, item, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        requisition = submit(org, item)

    signals.requisition_changed.send(
        sender=Requisition, requisition_id=requisition.pk, state=Requisition.State.SUBMITTED
    )

    assert Notification.objects.filter(event_type="requisition_waiting").count() == 1
    assert Delivery.objects.filter(event_type="requisition_waiting", channel="in_app").count() == 1


def test_a_head_who_requests_is_not_asked_to_approve_their_own(
    org, item, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.requisition_submit(
            actor=org.head, lines=[{"item": item, "quantity": 1}], reason="自用"
        )

    assert not Notification.objects.filter(event_type="requisition_waiting").exists()
