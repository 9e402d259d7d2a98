"""Delivery in the open: where each resource role of an assignment stands in its system, in
plain words for the person who asked ("Member of Sales (Contoso SCIM app): Delivered 27 Nov
2026, 08:30"), and the names the admin shows beside each delivery row.

The words are built here, not in templates; the rows come prefetched with the requests
(`with_deliveries`), so Request history costs the same number of queries however long it is.
"""

import re
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    ADD_TYPES,
    REMOVE_TYPES,
    DeliveryAction,
    DeliveryState,
    RequestState,
)
from governance.clock import when_text
from governance.models import AssignmentRequest, Resource, RoleDelivery

PORTAL_GROUPS = "Portal groups"
# What a person reads of a system's error: its first line, this long at most.
ERROR_SHOWN_MAX = 300
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Requests whose assignment's roles are shown: those that reached delivery.
SHOWN_STATES = {RequestState.DELIVERING, RequestState.DELIVERED,
                RequestState.PARTIALLY_DELIVERED, RequestState.DELIVERY_FAILED}


def system_label(resource: Resource) -> str:
    """The system a resource's roles are delivered into, by name."""
    return resource.system.display_name if resource.system_id else PORTAL_GROUPS


def with_deliveries(requests: QuerySet[AssignmentRequest]) -> QuerySet[AssignmentRequest]:
    """`requests` with their assignment's delivery rows, roles, resources and systems, in one
    more query (none when no request on the page has an assignment)."""
    rows = RoleDelivery.objects.select_related("role__resource__system").order_by(
        "role__resource__display_name", "role__display_name", "id")
    return requests.select_related("assignment").prefetch_related(
        Prefetch("assignment__deliveries", queryset=rows))


def _retry_time(moment) -> str:
    """"08:45" today, "28 Nov 2026, 08:45" another day."""
    local = timezone.localtime(moment)
    if local.date() == timezone.localtime(clock.now()).date():
        return date_format(local, "H:i")
    return when_text(moment)


def said(error: str, own_email: str = "") -> str:
    """What the system said, as the person may read it: its first line, shortened, with any
    email address but their own left out (a system's error may name someone else)."""
    first = next((line.strip() for line in (error or "").splitlines() if line.strip()), "")
    first = EMAIL.sub(lambda found: found.group(0)
                      if own_email and found.group(0).lower() == own_email.lower()
                      else "[someone]", first)
    if len(first) > ERROR_SHOWN_MAX:
        first = first[:ERROR_SHOWN_MAX - 1].rstrip() + "…"
    return first or "no reason given"


@dataclass(frozen=True)
class DeliveryLine:
    role: str     # "Member of Sales (Contoso SCIM app)"
    state: str    # "done", "waiting", "retrying", "failed": for the page's styling
    text: str     # what happened, in plain words

    def __str__(self):
        return f"{self.role}: {self.text}"


def _grant_words(delivery: RoleDelivery, own_email: str) -> tuple[str, str]:
    error = said(delivery.last_error, own_email)
    if delivery.state == DeliveryState.DONE:
        return "done", f"Delivered {when_text(delivery.completed_at)}" \
            if delivery.completed_at else "Delivered"
    if delivery.state == DeliveryState.FAILED:
        return "failed", (f"Failed — the system said: {error}. The catalog's administrators "
                          "see this failure and can try again.")
    if delivery.state == DeliveryState.IN_FLIGHT:
        return "waiting", "Being delivered now"
    if delivery.last_error and delivery.next_attempt_at:
        return "retrying", (f"Trying again at {_retry_time(delivery.next_attempt_at)} — the "
                            f"system said: {error}")
    return "waiting", "Waiting to be delivered"


def _revoke_words(delivery: RoleDelivery, own_email: str) -> tuple[str, str]:
    error = said(delivery.last_error, own_email)
    if delivery.state == DeliveryState.DONE:
        if delivery.note:
            return "done", "Kept: another of your access packages still grants it"
        return "done", f"Removed {when_text(delivery.completed_at)}" \
            if delivery.completed_at else "Removed"
    if delivery.state == DeliveryState.FAILED:
        return "failed", (f"Removal failed — the system said: {error}. The catalog's "
                          "administrators see this failure and can try again.")
    if delivery.state == DeliveryState.IN_FLIGHT:
        return "waiting", "Being removed now"
    if delivery.last_error and delivery.next_attempt_at:
        return "retrying", (f"Removing: trying again at {_retry_time(delivery.next_attempt_at)}"
                            f" — the system said: {error}")
    return "waiting", "Waiting to be removed"


def delivery_line(delivery: RoleDelivery, own_email: str = "") -> DeliveryLine:
    resource = delivery.role.resource
    role = f"{delivery.role.display_name} of {resource.display_name}"
    if resource.system_id:
        role += f" ({resource.system.display_name})"
    words = _grant_words if delivery.action == DeliveryAction.GRANT else _revoke_words
    state, text = words(delivery, own_email)
    return DeliveryLine(role, state, text)


def request_delivery_lines(request: AssignmentRequest,
                           own_email: str = "") -> list[DeliveryLine]:
    """For a request of `with_deliveries`: its roles' delivery, as its target (whose email is
    `own_email`) may read it.

    A request that added access shows the roles being (or that were) granted; a removal,
    those being taken away. Nothing else of the assignment shows, nor of anyone else.
    """
    assignment = request.assignment
    if assignment is None or request.state not in SHOWN_STATES:
        return []
    if request.request_type in ADD_TYPES:
        action = DeliveryAction.GRANT
    elif request.request_type in REMOVE_TYPES:
        action = DeliveryAction.REVOKE
    else:
        return []
    return [delivery_line(delivery, own_email) for delivery in assignment.deliveries.all()
            if delivery.action == action]


def annotate_delivery_lines(requests, viewer) -> None:
    """Give each request of a page (of `with_deliveries`, all for `viewer`) its
    `delivery_lines`."""
    for request in requests:
        request.delivery_lines = request_delivery_lines(request, viewer.email)
