"""Addresses and readers of the assignment admin's pages, for its tests."""

import csv
import io

from django.urls import reverse

LIST = reverse("admin:governance_assignment_changelist")
ADD = reverse("admin:governance_assignment_add")
EXPORT = reverse("admin:governance_assignment_export")
REQUESTS = reverse("admin:governance_assignmentrequest_changelist")
UPLOAD = reverse("admin:governance_bulkassignmentjob_add")



def url(name: str, obj) -> str:
    return reverse(f"admin:governance_{name}", args=[obj.pk])


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv"), response.status_code
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]
