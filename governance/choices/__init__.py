"""Enum values of the reference model (Graph's own spellings), with their open and final sets."""

from django.db import models

# The choices of access reviews have their own module; they are named here with the rest.
from .reviews import *  # noqa: F403


class UserType(models.TextChoices):
    MEMBER = "member", "Member"
    GUEST = "guest", "Guest"
    # The principal an API client acts as: never signs in, never requests, is no directory user.
    SERVICE = "service", "API client"


class SubjectLifecycle(models.TextChoices):
    NOT_DEFINED = "notDefined", "Not defined"
    NOT_GOVERNED = "notGoverned", "Not governed"
    GOVERNED = "governed", "Governed"


class AccountState(models.TextChoices):
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"
    DELETED = "deleted", "Deleted"


class ConnectedOrganizationState(models.TextChoices):
    CONFIGURED = "configured", "Configured"
    PROPOSED = "proposed", "Proposed"


class IdentitySourceType(models.TextChoices):
    DOMAIN = "domainIdentitySource", "Domain"
    TENANT = "azureActiveDirectoryTenant", "Microsoft Entra tenant"
    FEDERATION = "externalDomainFederation", "External domain federation"


class ExternalUserLifecycleAction(models.TextChoices):
    NONE = "none", "Nothing"
    BLOCK = "blockSignIn", "Block sign-in"
    BLOCK_AND_DELETE = "blockSignInAndDelete", "Block sign-in, then delete"


class CatalogState(models.TextChoices):
    UNPUBLISHED = "unpublished", "Unpublished"
    PUBLISHED = "published", "Published"


class CatalogRole(models.TextChoices):
    OWNER = "catalogOwner", "Catalog owner"
    READER = "catalogReader", "Catalog reader"
    PACKAGE_MANAGER = "accessPackageManager", "Access package manager"
    ASSIGNMENT_MANAGER = "accessPackageAssignmentManager", "Access package assignment manager"


class GlobalRole(models.TextChoices):
    CATALOG_CREATOR = "catalogCreator", "Catalog creator"
    CONNECTED_ORG_ADMIN = (
        "connectedOrganizationAdministrator", "Connected organization administrator")
    # Sets people's manager, sponsors and attributes, deactivates and re-activates them, and
    # imports people, for the people no provisioning client manages.
    USER_ADMIN = "userAdministrator", "User administrator"


class OriginSystem(models.TextChoices):
    GROUP = "AadGroup", "Group"
    APPLICATION = "AadApplication", "Application"
    SITE = "SharePointOnline", "SharePoint site"
    SCIM_GROUP = "ScimGroup", "SCIM group"


class AllowedTargetScope(models.TextChoices):
    NOT_SPECIFIED = "notSpecified", "Administrators assign directly"
    SPECIFIC_DIRECTORY_USERS = "specificDirectoryUsers", "Specific users and groups"
    SPECIFIC_CONNECTED_ORG_USERS = (
        "specificConnectedOrganizationUsers",
        "Users of specific connected organizations",
    )
    ALL_MEMBER_USERS = "allMemberUsers", "All members"
    ALL_DIRECTORY_USERS = "allDirectoryUsers", "All users, including guests"
    ALL_CONFIGURED_CONNECTED_ORG_USERS = (
        "allConfiguredConnectedOrganizationUsers",
        "Users of all configured connected organizations",
    )
    ALL_EXTERNAL_USERS = "allExternalUsers", "Any external user"

    @classmethod
    def rank(cls, value: str) -> int:
        """Lower wins: specific targets, then members, then all users, then external users."""
        return SCOPE_RANK[value]


SCOPE_RANK = {
    AllowedTargetScope.SPECIFIC_DIRECTORY_USERS: 0,
    AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS: 0,
    AllowedTargetScope.ALL_MEMBER_USERS: 1,
    AllowedTargetScope.ALL_DIRECTORY_USERS: 2,
    AllowedTargetScope.ALL_CONFIGURED_CONNECTED_ORG_USERS: 3,
    AllowedTargetScope.ALL_EXTERNAL_USERS: 3,
    AllowedTargetScope.NOT_SPECIFIED: 9,
}


class ExpirationType(models.TextChoices):
    NO_EXPIRATION = "noExpiration", "Never"
    AFTER_DATETIME = "afterDateTime", "On a date"
    AFTER_DURATION = "afterDuration", "After a duration"


class ApproverKind(models.TextChoices):
    PRIMARY = "primary", "Primary approver"
    FALLBACK = "fallback", "Fallback approver"
    ESCALATION = "escalation", "Escalation approver"
    # Named by an approver who is out of office; decides alongside them.
    DELEGATE = "delegate", "Delegate approver"


class SubjectSetType(models.TextChoices):
    SINGLE_USER = "singleUser", "A specific user"
    GROUP_MEMBERS = "groupMembers", "Members of a group"
    REQUESTOR_MANAGER = "requestorManager", "The requestor's manager"
    INTERNAL_SPONSORS = "internalSponsors", "Internal sponsors"
    EXTERNAL_SPONSORS = "externalSponsors", "External sponsors"
    TARGET_USER_SPONSORS = "targetUserSponsors", "The user's sponsors"


class QuestionKind(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "multipleChoice", "Multiple choice"


class RequestType(models.TextChoices):
    USER_ADD = "userAdd", "Request"
    USER_UPDATE = "userUpdate", "Extend"
    USER_REMOVE = "userRemove", "Remove"
    ADMIN_ADD = "adminAdd", "Direct assignment"
    ADMIN_UPDATE = "adminUpdate", "Administrator update"
    ADMIN_REMOVE = "adminRemove", "Administrator removal"
    SYSTEM_ADD = "systemAdd", "System assignment"
    SYSTEM_UPDATE = "systemUpdate", "System update"
    SYSTEM_REMOVE = "systemRemove", "System removal"
    ON_BEHALF_ADD = "onBehalfAdd", "Request on behalf"


ADD_TYPES = {RequestType.USER_ADD, RequestType.ADMIN_ADD, RequestType.SYSTEM_ADD,
             RequestType.ON_BEHALF_ADD}
UPDATE_TYPES = {RequestType.USER_UPDATE, RequestType.ADMIN_UPDATE, RequestType.SYSTEM_UPDATE}
REMOVE_TYPES = {RequestType.USER_REMOVE, RequestType.ADMIN_REMOVE, RequestType.SYSTEM_REMOVE}


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    PENDING_APPROVAL = "pendingApproval", "Pending approval"
    SCHEDULED = "scheduled", "Scheduled"
    DELIVERING = "delivering", "Delivering"
    DELIVERED = "delivered", "Delivered"
    PARTIALLY_DELIVERED = "partiallyDelivered", "Partially delivered"
    DELIVERY_FAILED = "deliveryFailed", "Delivery failed"
    DENIED = "denied", "Denied"
    CANCELED = "canceled", "Canceled"


REQUEST_OPEN = [RequestState.SUBMITTED, RequestState.PENDING_APPROVAL, RequestState.SCHEDULED,
                RequestState.DELIVERING]
REQUEST_FINAL = [RequestState.DELIVERED, RequestState.PARTIALLY_DELIVERED,
                 RequestState.DELIVERY_FAILED, RequestState.DENIED, RequestState.CANCELED]


class RequestCause(models.TextChoices):
    """Who or what moves a request on: the causes of REQUEST_TRANSITIONS."""

    # Or the person the request is for, who may cancel it too.
    REQUESTOR = "requestor", "the requestor"
    APPROVER = "approver", "an approver"
    MANAGER = "manager", "the person's manager"
    ADMINISTRATOR = "administrator", "an administrator"
    EXTENSION = "extension", "a custom extension's callback"
    # A sweep, a delivery's result, the end of the access a request delivers or extends.
    SYSTEM = "system", "the portal"


_ASKED = frozenset({RequestCause.REQUESTOR, RequestCause.ADMINISTRATOR, RequestCause.EXTENSION})
_APPROVED = frozenset({RequestCause.APPROVER, RequestCause.EXTENSION})
_WITHDRAWN = frozenset({RequestCause.REQUESTOR, RequestCause.ADMINISTRATOR, RequestCause.SYSTEM})
_SYSTEM = frozenset({RequestCause.SYSTEM})

# (from, to) → who may cause that move; None is a request not created yet. Every write of a
# request's state is checked against this (governance.services.request_lifecycle); any other
# move is refused. Delivery (to scheduled, delivering, delivered, or failed when the access
# to extend has ended) starts from submitted, from pending approval once the last stage and
# the "approved" extension let it, or from scheduled when the start date comes. A request
# delivered in part or not at all is delivering again when an administrator has its
# deliveries retried; the other final states never change.
REQUEST_TRANSITIONS: dict[tuple[str | None, str], frozenset[str]] = {
    (None, RequestState.SUBMITTED): frozenset({RequestCause.REQUESTOR,
                                               RequestCause.ADMINISTRATOR}),
    # A removal is carried out as it is asked.
    # So is an automatic policy's assignment (systemAdd): the assignment then delivers it.
    (None, RequestState.DELIVERED): frozenset({RequestCause.REQUESTOR, RequestCause.MANAGER,
                                               RequestCause.ADMINISTRATOR,
                                               RequestCause.SYSTEM}),
    (RequestState.SUBMITTED, RequestState.PENDING_APPROVAL): frozenset({
        RequestCause.REQUESTOR, RequestCause.EXTENSION}),
    (RequestState.SUBMITTED, RequestState.SCHEDULED): _ASKED,
    (RequestState.SUBMITTED, RequestState.DELIVERING): _ASKED,
    (RequestState.SUBMITTED, RequestState.DELIVERED): _ASKED,
    (RequestState.SUBMITTED, RequestState.DELIVERY_FAILED): _ASKED,
    # The "created" extension's callback denies, or it never answers (or cannot be reached).
    (RequestState.SUBMITTED, RequestState.DENIED): frozenset({RequestCause.EXTENSION,
                                                            RequestCause.SYSTEM}),
    (RequestState.SUBMITTED, RequestState.CANCELED): _WITHDRAWN | {RequestCause.EXTENSION},
    (RequestState.PENDING_APPROVAL, RequestState.SCHEDULED): _APPROVED,
    (RequestState.PENDING_APPROVAL, RequestState.DELIVERING): _APPROVED,
    (RequestState.PENDING_APPROVAL, RequestState.DELIVERED): _APPROVED,
    (RequestState.PENDING_APPROVAL, RequestState.DELIVERY_FAILED): _APPROVED,
    # An approver denies, or the deadline (or the "approved" extension's timeout) passes.
    (RequestState.PENDING_APPROVAL, RequestState.DENIED): frozenset({RequestCause.APPROVER,
                                                                   RequestCause.SYSTEM}),
    (RequestState.PENDING_APPROVAL, RequestState.CANCELED): _WITHDRAWN,
    (RequestState.SCHEDULED, RequestState.DELIVERING): _SYSTEM,
    (RequestState.SCHEDULED, RequestState.DELIVERED): _SYSTEM,
    (RequestState.SCHEDULED, RequestState.DELIVERY_FAILED): _SYSTEM,
    (RequestState.SCHEDULED, RequestState.CANCELED): _WITHDRAWN,
    (RequestState.DELIVERING, RequestState.DELIVERED): _SYSTEM,
    (RequestState.DELIVERING, RequestState.PARTIALLY_DELIVERED): _SYSTEM,
    # Also when the access ends before its delivery finished.
    (RequestState.DELIVERING, RequestState.DELIVERY_FAILED): _SYSTEM,
    (RequestState.PARTIALLY_DELIVERED, RequestState.DELIVERING): frozenset({
        RequestCause.ADMINISTRATOR}),
    (RequestState.DELIVERY_FAILED, RequestState.DELIVERING): frozenset({
        RequestCause.ADMINISTRATOR}),
}


class StageState(models.TextChoices):
    NOT_STARTED = "notStarted", "Not started"
    IN_PROGRESS = "inProgress", "In progress"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    TIMED_OUT = "timedOut", "Expired"
    SKIPPED = "skipped", "Not needed"


class Decision(models.TextChoices):
    APPROVE = "Approve", "Approve"
    DENY = "Deny", "Deny"


class AssignmentState(models.TextChoices):
    DELIVERING = "delivering", "Delivering"
    PARTIALLY_DELIVERED = "partiallyDelivered", "Partially delivered"
    DELIVERED = "delivered", "Delivered"
    DELIVERY_FAILED = "deliveryFailed", "Delivery failed"
    EXPIRED = "expired", "Expired"


ASSIGNMENT_ACTIVE = [AssignmentState.DELIVERING, AssignmentState.PARTIALLY_DELIVERED,
                     AssignmentState.DELIVERED, AssignmentState.DELIVERY_FAILED]


class EndReason(models.TextChoices):
    EXPIRED = "expired", "Expired"
    REMOVED_BY_USER = "removedByUser", "Removed by the user"
    REMOVED_BY_ADMIN = "removedByAdmin", "Removed by an administrator"
    REMOVED_BY_MANAGER = "removedByManager", "Removed by the manager"
    REMOVED_BY_SYSTEM = "removedBySystem", "Removed by the system"
    REMOVED_BY_REVIEW = "removedByReview", "Removed by an access review"
    # The leaver: the person was deactivated (by their identity provider or an administrator).
    USER_DEACTIVATED = "userDeactivated", "Removed: the person was deactivated"
    # An automatic policy's person no longer matches its rule (and the grace period ended).
    RULE_NOT_MATCHED = "ruleNotMatched", "Removed: no longer matches the policy's rule"


class DeliveryAction(models.TextChoices):
    GRANT = "grant", "Grant"
    REVOKE = "revoke", "Revoke"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "inFlight", "In flight"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class OutboxState(models.TextChoices):
    QUEUED = "queued", "Queued"
    IN_FLIGHT = "inFlight", "In flight"
    SENT = "sent", "Sent"
    WAITING_RETRY = "waitingRetry", "Waiting to retry"
    FAILED = "failed", "Failed"


class GroupMembershipRole(models.TextChoices):
    MEMBER = "Member", "Member"
    OWNER = "Owner", "Owner"


class BulkJobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


BULK_JOB_OPEN = [BulkJobState.QUEUED, BulkJobState.RUNNING]
BULK_JOB_FINAL = [BulkJobState.DONE, BulkJobState.FAILED]


class BulkRowOutcome(models.TextChoices):
    PENDING = "pending", "Not processed yet"
    ASSIGNED = "assigned", "Assigned"
    REJECTED = "rejected", "Rejected"


class SystemKind(models.TextChoices):
    """What kind of target system a connector talks to."""

    SCIM = "scim", "SCIM 2.0"
    ENTRA = "entra", "Microsoft Entra (Microsoft Graph)"


class AccountAction(models.TextChoices):
    """A change to a person's account in a target system, waiting for the workers."""

    BLOCK = "block", "Block sign-in"
    UNBLOCK = "unblock", "Allow sign-in"
    DELETE = "delete", "Delete"


class CustomExtensionStage(models.TextChoices):
    REQUEST_CREATED = "assignmentRequestCreated", "Request is created"
    REQUEST_APPROVED = "assignmentRequestApproved", "Request is approved"
    REQUEST_GRANTED = "assignmentRequestGranted", "Assignment is granted"
    REQUEST_REMOVED = "assignmentRequestRemoved", "Assignment is removed"
    FOURTEEN_DAYS = "assignmentFourteenDaysBeforeExpiration", "14 days before expiry"
    ONE_DAY = "assignmentOneDayBeforeExpiration", "1 day before expiry"


# Only these stages can hold a request until the extension answers (as in Entra).
EXTENSION_WAIT_STAGES = [CustomExtensionStage.REQUEST_CREATED,
                         CustomExtensionStage.REQUEST_APPROVED]


class CustomExtensionBehavior(models.TextChoices):
    LAUNCH_AND_CONTINUE = "launchAndContinue", "Launch and continue"
    LAUNCH_AND_WAIT = "launchAndWait", "Launch and wait for a callback"


class CalloutStatus(models.TextChoices):
    """Graph's customExtensionCalloutInstanceStatus."""

    QUEUED = "queued", "Queued"
    CALLOUT_SENT = "calloutSent", "Sent"
    WAITING = "waitingForCallback", "Waiting for the callback"
    CALLBACK_RECEIVED = "callbackReceived", "Callback received"
    CALLOUT_FAILED = "calloutFailed", "Could not be sent"
    TIMED_OUT = "callbackTimedOut", "No callback in time"


class ApiPermission(models.TextChoices):
    """Microsoft Graph's application permission names, granted to API clients."""

    READ_ALL = "EntitlementManagement.Read.All", "Read entitlement management"
    READ_WRITE_ALL = "EntitlementManagement.ReadWrite.All", "Read and write entitlement management"
    # The directory's people (/v1.0/users): Graph's own names. Reading users also takes the
    # entitlement management permissions, as it always has; changing them takes this one.
    USER_READ_ALL = "User.Read.All", "Read all users' profiles"
    USER_READ_WRITE_ALL = "User.ReadWrite.All", "Read and write all users' profiles"
