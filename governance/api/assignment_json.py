"""The JSON of accessPackageAssignment, and the minimal accessPackageAssignmentPolicy that an
assignment or a request expands to. Graph's property names; ids are strings.

The schedule (entitlementManagementSchedule) is shared with requests:
``{"startDateTime", "expiration": {"type", "endDateTime", "duration"}}``.
"""

from django.db.models import QuerySet

from governance.choices import AssignmentState
from governance.models import Assignment, AssignmentPolicy

from . import odata
from .base import EM, GraphType
from .graph_json import instant
from .policy_json import automatic_settings_json
from .shapes import package_json, sid, subject_json

ASSIGNMENTS = f"{EM}/assignments"


def schedule_json(start_at, end_at) -> dict:
    """entitlementManagementSchedule: access from `start_at` (None: at once) until `end_at`."""
    if end_at is None:
        expiration = {"type": "noExpiration", "endDateTime": None, "duration": None}
    else:
        expiration = {"type": "afterDateTime", "endDateTime": instant(end_at), "duration": None}
    return {"startDateTime": instant(start_at), "expiration": expiration, "recurrence": None}


def policy_brief_json(policy: AssignmentPolicy | None, expand=()) -> dict | None:
    """accessPackageAssignmentPolicy, only the properties an assignment needs to name it."""
    if policy is None:
        return None
    return {
        "id": sid(policy.pk),
        "displayName": policy.display_name,
        "description": policy.description,
        "allowedTargetScope": policy.allowed_target_scope,
        # Not null: an automatic policy's membership rule made the assignment.
        "automaticRequestSettings": automatic_settings_json(policy),
    }


ASSIGNMENT_STATES = [value for value, _label in AssignmentState.choices]

ASSIGNMENT_FIELDS = {
    "id": odata.ident("pk"),
    "state": odata.enum("state", ASSIGNMENT_STATES),
    "status": odata.text("status"),
    "expiredDateTime": odata.instant("ended_at"),
    "accessPackage/id": odata.ident("access_package_id"),
    "assignmentPolicy/id": odata.ident("policy_id"),
    "target/objectId": odata.ident("target_id"),
    "target/id": odata.ident("target_id"),
    "target/email": odata.text("target__email"),
    "schedule/startDateTime": odata.instant("start_at"),
    "schedule/expiration/endDateTime": odata.instant("expires_at"),
}

ASSIGNMENT_EXPANDABLE = ("target", "accessPackage", "assignmentPolicy")


def assignment_json(assignment: Assignment, expand=()) -> dict:
    """accessPackageAssignment; `target`, `accessPackage` and `assignmentPolicy` on $expand."""
    expired = assignment.state == AssignmentState.EXPIRED
    item = {
        "id": sid(assignment.pk),
        "state": assignment.state,
        "status": assignment.status or assignment.get_state_display(),
        "expiredDateTime": instant(assignment.ended_at) if expired else None,
        "schedule": schedule_json(assignment.start_at,
                                  assignment.ended_at if expired and assignment.ended_at
                                  else assignment.expires_at),
        "customExtensionCalloutInstances": [],
    }
    if "target" in expand:
        item["target"] = subject_json(assignment.target)
    if "accessPackage" in expand:
        item["accessPackage"] = package_json(assignment.access_package)
    if "assignmentPolicy" in expand:
        item["assignmentPolicy"] = policy_brief_json(assignment.policy)
    return item


# The columns assignment_json reads, here and in what it expands: a page of 999 builds four
# objects a row, and loading whole people and packages doubled the cost of a page.
ASSIGNMENT_COLUMNS = (
    "state", "status", "start_at", "expires_at", "ended_at",
    "target__display_name", "target__email", "target__subject_lifecycle",
    "access_package__display_name", "access_package__description",
    "access_package__is_hidden", "access_package__created_at", "access_package__modified_at",
    "policy__display_name", "policy__description", "policy__allowed_target_scope",
    "policy__is_automatic", "policy__request_access_for_allowed_targets",
    "policy__remove_access_when_target_leaves", "policy__grace_period_before_access_removal",
)


def assignment_prefetch(queryset: QuerySet, expand) -> QuerySet:
    return queryset.select_related("target", "access_package", "policy").only(
        *ASSIGNMENT_COLUMNS)


ASSIGNMENT = GraphType("accessPackageAssignment", ASSIGNMENT_FIELDS, assignment_json,
                       expandable=ASSIGNMENT_EXPANDABLE, prefetch=assignment_prefetch)

