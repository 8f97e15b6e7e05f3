"""Background work: thin wrappers around vendors.delivery, safe to run twice."""

from django_tasks import task

from vendors import delivery


@task()
def send_delivery(delivery_id: int) -> None:
    delivery.deliver(delivery_id)
