"""A Graph accessPackageAssignmentPolicy body → the PolicySpec of services.policies and the
questions to write with question_save / question_delete.

``PolicyBody(data).over(base)`` reads the body over ``base`` (the current policy's spec for
PATCH, Graph's defaults for POST and PUT); every refusal names the property path, e.g.
"requestApprovalSettings.stages[0].durationBeforeAutomaticDenial: …".

An automatic policy is written as Graph writes one: ``automaticRequestSettings`` (present and
not null) makes the policy automatic, and its one ``specificAllowedTargets`` entry is a
``#microsoft.graph.attributeRuleMembers`` whose ``membershipRule`` says who holds the package.
Nobody requests under it, so a body that turns on a requestor or approval setting, or asks
questions, is refused here, naming the property (the service refuses stages, a second
automatic policy on the package, a rule that does not read and a grace period out of range).
"""

from dataclasses import replace

from governance.choices import AllowedTargetScope, ExpirationType
from governance.services.policy_spec import PolicySpec

from .graph_json import Body, parse_duration, parse_enum, parse_instant
from .policy_json import SCOPES
from .policy_parts import (
    GRAPH,
    QuestionSpec,
    array,
    bad,
    flag,
    object_body,
    question_spec,
    review_shape,
    stage_spec,
    subject_set,
)

__all__ = ["POLICY_PROPERTIES", "PolicyBody", "graph_defaults", "stage_spec", "subject_set"]

POLICY_PROPERTIES = (
    "id", "displayName", "description", "allowedTargetScope", "specificAllowedTargets",
    "automaticRequestSettings", "expiration", "requestorSettings", "requestApprovalSettings",
    "reviewSettings", "notificationSettings", "questions", "accessPackage", "catalog",
    "customExtensionStageSettings", "createdDateTime", "modifiedDateTime")
EXPIRATION = ("type", "endDateTime", "duration")
REQUESTOR = ("enableTargetsToSelfAddAccess", "enableTargetsToSelfUpdateAccess",
             "enableTargetsToSelfRemoveAccess", "allowCustomAssignmentSchedule",
             "enableOnBehalfRequestorsToAddAccess", "enableOnBehalfRequestorsToUpdateAccess",
             "enableOnBehalfRequestorsToRemoveAccess", "onBehalfRequestors",
             "isRequestorJustificationRequired")
APPROVAL = ("isApprovalRequiredForAdd", "isApprovalRequiredForUpdate",
            "isRequestorJustificationRequired", "stages")
AUTOMATIC = ("requestAccessForAllowedTargets", "removeAccessWhenTargetLeavesAllowedTargets",
             "gracePeriodBeforeAccessRemoval")
RULE_MEMBERS = "attributeRuleMembers"
# The settings of a requested policy that an automatic one keeps off, by their Graph path.
REQUEST_ONLY = (
    ("enable_self_add", "requestorSettings.enableTargetsToSelfAddAccess"),
    ("enable_self_update", "requestorSettings.enableTargetsToSelfUpdateAccess"),
    ("enable_self_remove", "requestorSettings.enableTargetsToSelfRemoveAccess"),
    ("allow_custom_schedule", "requestorSettings.allowCustomAssignmentSchedule"),
    ("enable_on_behalf_of_direct_reports", "requestorSettings.enableOnBehalfRequestorsToAddAccess"),
    ("is_approval_required_for_add", "requestApprovalSettings.isApprovalRequiredForAdd"),
    ("is_approval_required_for_update", "requestApprovalSettings.isApprovalRequiredForUpdate"),
    ("is_requestor_justification_required",
     "requestApprovalSettings.isRequestorJustificationRequired"),
)


def graph_defaults() -> PolicySpec:
    """The spec of a policy whose body names nothing (Graph's defaults)."""
    return PolicySpec(
        allowed_target_scope="notSpecified", enable_self_add=False, enable_self_update=False,
        enable_self_remove=False, is_approval_required_for_add=False,
        expiration_type=ExpirationType.NO_EXPIRATION, expiration_duration=None)


class PolicyBody:
    """The body, read in two steps: its own properties now, and `over(base)` the spec it
    makes of `base` (for a PATCH the policy's current spec, read under its lock). `questions`
    is None when the body does not name them (they stay as they are)."""

    def __init__(self, data: dict):
        self.body = Body(data, POLICY_PROPERTIES, "accessPackageAssignmentPolicy")
        self.questions: list[QuestionSpec] | None = None
        self.spec: PolicySpec | None = None
        self.kind_changes = False
        # (index, Graph type) of each specificAllowedTargets entry, when the body names them.
        self.target_kinds: list[tuple[int, str]] = []

    def over(self, base: PolicySpec, *, current: bool = False) -> PolicySpec:
        """The spec the body makes of `base`; `current` when base is the policy as it is (a
        PATCH), whose kind (automatic or requested) the service keeps."""
        self.spec, self.target_kinds = replace(base), []
        self.kind_changes = current and base.is_automatic != self._names_automatic(base)
        self._read()
        return self.spec

    def _names_automatic(self, base: PolicySpec) -> bool:
        if not self.body.has("automaticRequestSettings"):
            return base.is_automatic
        return self.body.data["automaticRequestSettings"] is not None

    def _read(self) -> None:
        body, spec = self.body, self.spec
        spec.display_name = body.text("displayName", spec.display_name)
        spec.description = body.text("description", spec.description)
        spec.allowed_target_scope = body.enum("allowedTargetScope", SCOPES,
                                              spec.allowed_target_scope)
        if body.has("specificAllowedTargets"):
            self._targets(body.data["specificAllowedTargets"])
        if body.has("automaticRequestSettings"):
            self._automatic(body.data["automaticRequestSettings"])
        if body.data.get("customExtensionStageSettings"):
            raise bad("customExtensionStageSettings", "set custom extensions on the policy "
                      "in the admin; leave it out or empty here.")
        if body.data.get("expiration") is not None:
            self._expiration(body.data["expiration"])
        if body.data.get("requestorSettings") is not None:
            self._requestor(body.data["requestorSettings"])
        if body.data.get("requestApprovalSettings") is not None:
            self._approval(body.data["requestApprovalSettings"])
        if body.has("reviewSettings"):
            review = body.data["reviewSettings"]
            if review is not None and not isinstance(review, dict):
                raise bad("reviewSettings", "expected a JSON object or null.")
            if review is not None:
                review_shape(review)
            spec.review_settings = review
        if body.data.get("notificationSettings") is not None:
            notes = object_body(body.data["notificationSettings"], "notificationSettings",
                                ("isAssignmentNotificationDisabled",))
            spec.send_assignment_emails = not flag(
                notes, "isAssignmentNotificationDisabled", "notificationSettings",
                not spec.send_assignment_emails)
        if body.has("questions"):
            self.questions = [question_spec(item, f"questions[{index}]") for index, item
                              in enumerate(array(body.data["questions"], "questions"))]
        self._check_kind()

    def _targets(self, values) -> None:
        users, groups, organizations, rules = [], [], [], []
        for index, value in enumerate(array(values, "specificAllowedTargets")):
            path = f"specificAllowedTargets[{index}]"
            kind, found = subject_set(value, path)
            self.target_kinds.append((index, kind))
            bucket = {"singleUser": users, "groupMembers": groups,
                      "connectedOrganizationMembers": organizations,
                      RULE_MEMBERS: rules}.get(kind)
            if bucket is None:
                raise bad(path, f"{GRAPH}{kind} cannot be a target of a policy; name users, "
                          "groups, connected organizations or, for an automatic policy, "
                          f"{GRAPH}{RULE_MEMBERS}.")
            if kind == RULE_MEMBERS and rules:
                raise bad(path, "an automatic policy has one membership rule; join the "
                          "conditions in it with -or.")
            bucket.append(found)
        self.spec.specific_users, self.spec.specific_groups = users, groups
        self.spec.specific_connected_organizations = organizations
        rule, description = rules[0] if rules else ("", "")
        self.spec.membership_rule, self.spec.membership_rule_description = rule, description

    def _automatic(self, value) -> None:
        """accessPackageAutomaticRequestSettings: null (or absent, for POST and PUT) is a
        requested policy; an object, an automatic one."""
        spec, path = self.spec, "automaticRequestSettings"
        if value is None:
            spec.is_automatic = False
            return
        body = object_body(value, path, AUTOMATIC)
        spec.is_automatic = True
        spec.request_access_for_allowed_targets = flag(
            body, "requestAccessForAllowedTargets", path,
            spec.request_access_for_allowed_targets)
        spec.remove_access_when_target_leaves = flag(
            body, "removeAccessWhenTargetLeavesAllowedTargets", path,
            spec.remove_access_when_target_leaves)
        if body.has("gracePeriodBeforeAccessRemoval"):
            spec.grace_period_before_access_removal = parse_duration(
                body.data["gracePeriodBeforeAccessRemoval"],
                f"{path}.gracePeriodBeforeAccessRemoval", allow_zero=True)

    def _check_kind(self) -> None:
        """An automatic policy names its people by one rule and nothing else, and keeps every
        requestor and approval setting off; a requested policy has no rule."""
        spec, body = self.spec, self.body
        if self.kind_changes:
            return  # refused by the service, which names automaticRequestSettings
        rule_at = next((index for index, kind in self.target_kinds if kind == RULE_MEMBERS),
                       None)
        if not spec.is_automatic:
            if rule_at is not None:
                raise bad(f"specificAllowedTargets[{rule_at}]", f"{GRAPH}{RULE_MEMBERS} is the "
                          "people of an automatic policy: give automaticRequestSettings too.")
            return
        other_at = next((index for index, kind in self.target_kinds if kind != RULE_MEMBERS),
                        None)
        if other_at is not None:
            raise bad(f"specificAllowedTargets[{other_at}]", "an automatic policy's people are "
                      f"those its membership rule matches: name only one {GRAPH}{RULE_MEMBERS}.")
        if not spec.membership_rule.strip():
            raise bad("specificAllowedTargets", "a policy with automaticRequestSettings "
                      f"assigns the people of one {GRAPH}{RULE_MEMBERS}: give its "
                      "membershipRule, e.g. user.department -eq \"Sales\".")
        if body.has("allowedTargetScope") \
                and spec.allowed_target_scope != AllowedTargetScope.SPECIFIC_DIRECTORY_USERS:
            raise bad("allowedTargetScope", "an automatic policy is for the people its rule "
                      "matches: specificDirectoryUsers.")
        for name, path in REQUEST_ONLY:
            if getattr(spec, name):
                raise bad(self._requestor_path(name, path), "nobody requests under an "
                          "automatic policy: this must be false.")
        if self.questions:
            raise bad("questions", "nobody requests under an automatic policy, so it asks no "
                      "questions; leave them out or empty.")

    def _requestor_path(self, name: str, path: str) -> str:
        """Where the body said it: justification may be in requestorSettings too."""
        requestor = self.body.data.get("requestorSettings") or {}
        if name == "is_requestor_justification_required" \
                and "isRequestorJustificationRequired" in requestor:
            return "requestorSettings.isRequestorJustificationRequired"
        return path

    def _expiration(self, value) -> None:
        body, spec = object_body(value, "expiration", EXPIRATION), self.spec
        kind = parse_enum(body.data.get("type", spec.expiration_type), "expiration.type",
                          ExpirationType.values)
        spec.expiration_type = kind
        if kind == ExpirationType.AFTER_DATETIME:
            spec.expiration_end_at = parse_instant(body.data.get("endDateTime"),
                                                      "expiration.endDateTime")
        if kind == ExpirationType.AFTER_DURATION:
            spec.expiration_duration = parse_duration(body.data.get("duration"),
                                                         "expiration.duration")
            if spec.expiration_duration is None:
                raise bad("expiration.duration", "give how long access lasts, e.g. P30D.")
        elif body.data.get("duration"):
            parse_duration(body.data["duration"], "expiration.duration")  # checked, not kept

    def _requestor(self, value) -> None:
        path = "requestorSettings"
        body, spec = object_body(value, path, REQUESTOR), self.spec
        for name, key in (("enableTargetsToSelfAddAccess", "enable_self_add"),
                          ("enableTargetsToSelfUpdateAccess", "enable_self_update"),
                          ("enableTargetsToSelfRemoveAccess", "enable_self_remove"),
                          ("allowCustomAssignmentSchedule", "allow_custom_schedule"),
                          ("enableOnBehalfRequestorsToAddAccess",
                           "enable_on_behalf_of_direct_reports"),
                          ("isRequestorJustificationRequired",
                           "is_requestor_justification_required")):
            setattr(spec, key, flag(body, name, path, getattr(spec, key)))
        for name in ("enableOnBehalfRequestorsToUpdateAccess",
                     "enableOnBehalfRequestorsToRemoveAccess"):
            if flag(body, name, path, False):
                raise bad(f"{path}.{name}", "managers may only ask for access on behalf of "
                          "their direct reports; this must be false.")
        for index, item in enumerate(array(body.data.get("onBehalfRequestors"),
                                           f"{path}.onBehalfRequestors")):
            kind, level = subject_set(item, f"{path}.onBehalfRequestors[{index}]")
            if kind != "requestorManager" or level != 1:
                raise bad(f"{path}.onBehalfRequestors[{index}]", "only the direct manager "
                          f"({GRAPH}requestorManager, managerLevel 1) may ask on behalf.")

    def _approval(self, value) -> None:
        path = "requestApprovalSettings"
        body, spec = object_body(value, path, APPROVAL), self.spec
        for name, key in (("isApprovalRequiredForAdd", "is_approval_required_for_add"),
                          ("isApprovalRequiredForUpdate", "is_approval_required_for_update"),
                          ("isRequestorJustificationRequired",
                           "is_requestor_justification_required")):
            setattr(spec, key, flag(body, name, path, getattr(spec, key)))
        if body.has("stages"):
            spec.stages = [stage_spec(item, f"{path}.stages[{index}]") for index, item
                              in enumerate(array(body.data["stages"], f"{path}.stages"))]
