"""Background work: thin wrappers around vendors.delivery, safe to run twice."""

from django_tasks import task

from vendors import calendar, delivery, importing
from vendors.language import written_for
from vendors.models import VendorConnection


@task()
def send_delivery(delivery_id: int) -> None:
    delivery.deliver(delivery_id)


@task()
def pull_calendar(connection_id: int) -> None:
    connection = (
        VendorConnection.objects.filter(pk=connection_id, active=True)
        .select_related("clinic")
        .first()
    )
    if connection is not None:
        with written_for(connection.clinic):  # no user: its errors are read later
            calendar.pull(connection)


@task()
def import_from_vendor(run_id: int) -> None:
    importing.run_import(run_id)
