"""Assignment policies: who may request, how it is approved, how long it lasts."""

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    ExpirationType,
    QuestionKind,
    SubjectSetType,
)
from governance.models.fields import CreatedAtField, ModifiedAtField
from governance.models.visibility import CatalogOwned


class AssignmentPolicy(CatalogOwned):
    catalog_path = "access_package__catalog_id"

    access_package = models.ForeignKey("governance.AccessPackage", on_delete=models.CASCADE,
                                       related_name="policies")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    allowed_target_scope = models.CharField(max_length=40, choices=AllowedTargetScope,
                                            default=AllowedTargetScope.NOT_SPECIFIED)
    specific_users = models.ManyToManyField("governance.User", blank=True,
                                            related_name="targeted_by_policies")
    specific_groups = models.ManyToManyField("governance.Group", blank=True,
                                             related_name="targeted_by_policies")
    specific_connected_organizations = models.ManyToManyField(
        "governance.ConnectedOrganization", blank=True, related_name="targeted_by_policies")

    # requestorSettings
    enable_self_add = models.BooleanField(default=True)
    enable_self_update = models.BooleanField(default=True)
    enable_self_remove = models.BooleanField(default=True)
    allow_custom_schedule = models.BooleanField(default=False)
    enable_on_behalf_of_direct_reports = models.BooleanField(default=False)

    # requestApprovalSettings (the stages are rows of ApprovalStageSetting)
    is_approval_required_for_add = models.BooleanField(default=True)
    is_approval_required_for_update = models.BooleanField(default=False)
    is_requestor_justification_required = models.BooleanField(default=False)

    # expiration
    expiration_type = models.CharField(max_length=16, choices=ExpirationType,
                                       default=ExpirationType.AFTER_DURATION)
    expiration_end_at = models.DateTimeField(null=True, blank=True)
    expiration_duration = models.DurationField(null=True, blank=True,
                                               default=timedelta(days=365))

    # reviewSettings: stored now, run by the access-review engine
    review_settings = models.JSONField(default=dict, blank=True)
    send_assignment_emails = models.BooleanField(default=True)

    # An automatic policy (Graph: automaticRequestSettings, with an attributeRuleMembers
    # subject set as its only specificAllowedTarget) assigns everyone its membership rule
    # matches; nobody requests under it. governance.services.automatic applies it.
    is_automatic = models.BooleanField(default=False)
    membership_rule = models.TextField(blank=True)
    membership_rule_description = models.CharField(max_length=500, blank=True)
    # requestAccessForAllowedTargets: off, the policy assigns no one new (but keeps removing).
    request_access_for_allowed_targets = models.BooleanField(default=True)
    remove_access_when_target_leaves = models.BooleanField(default=True)
    grace_period_before_access_removal = models.DurationField(null=True, blank=True,
                                                              default=timedelta(days=7))

    created_at = CreatedAtField()
    modified_at = ModifiedAtField()

    class Meta:
        ordering = ["access_package_id", "display_name"]
        verbose_name_plural = "assignment policies"
        constraints = [
            models.CheckConstraint(
                name="policy_end_date_when_after_datetime",
                condition=~models.Q(expiration_type=ExpirationType.AFTER_DATETIME)
                | models.Q(expiration_end_at__isnull=False),
            ),
            models.CheckConstraint(
                name="policy_duration_when_after_duration",
                condition=~models.Q(expiration_type=ExpirationType.AFTER_DURATION)
                | models.Q(expiration_duration__isnull=False),
            ),
            # As in Entra: at most one automatic policy per package, and it has a rule.
            models.UniqueConstraint(fields=["access_package"],
                                    condition=models.Q(is_automatic=True),
                                    name="one_automatic_policy_per_package"),
            models.CheckConstraint(name="automatic_policy_has_a_rule",
                                   condition=models.Q(is_automatic=False)
                                   | ~models.Q(membership_rule="")),
        ]

    def __str__(self):
        return self.display_name

    @property
    def scope_rank(self) -> int:
        return AllowedTargetScope.rank(self.allowed_target_scope)


class ApprovalStageSetting(CatalogOwned):
    """One stage of a policy's approval: up to three, decided in order."""

    catalog_path = "policy__access_package__catalog_id"

    policy = models.ForeignKey(AssignmentPolicy, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField(validators=[MinValueValidator(1),
                                                         MaxValueValidator(3)])
    duration_before_automatic_denial_days = models.PositiveSmallIntegerField(
        default=14, validators=[MinValueValidator(1), MaxValueValidator(14)])
    is_approver_justification_required = models.BooleanField(default=False)
    is_escalation_enabled = models.BooleanField(default=False)
    duration_before_escalation_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["policy_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "order"], name="one_stage_per_order"),
            models.CheckConstraint(name="stage_order_1_to_3",
                                   condition=models.Q(order__gte=1, order__lte=3)),
            models.CheckConstraint(
                name="escalation_before_deadline",
                condition=models.Q(is_escalation_enabled=False)
                | models.Q(duration_before_escalation_days__gte=1,
                           duration_before_escalation_days__lt=models.F(
                               "duration_before_automatic_denial_days")),
            ),
        ]

    def __str__(self):
        return f"Stage {self.order} of {self.policy}"


class ApproverSet(CatalogOwned):
    """A subject set naming approvers of a stage: primary, fallback or escalation."""

    catalog_path = "stage__policy__access_package__catalog_id"

    stage = models.ForeignKey(ApprovalStageSetting, on_delete=models.CASCADE,
                              related_name="approver_sets")
    kind = models.CharField(max_length=10, choices=ApproverKind, default=ApproverKind.PRIMARY)
    subject_type = models.CharField(max_length=20, choices=SubjectSetType)
    user = models.ForeignKey("governance.User", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    group = models.ForeignKey("governance.Group", null=True, blank=True,
                              on_delete=models.CASCADE, related_name="+")
    manager_level = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="single_user_names_user",
                condition=~models.Q(subject_type=SubjectSetType.SINGLE_USER)
                | models.Q(user__isnull=False),
            ),
            models.CheckConstraint(
                name="group_members_names_group",
                condition=~models.Q(subject_type=SubjectSetType.GROUP_MEMBERS)
                | models.Q(group__isnull=False),
            ),
            models.CheckConstraint(name="manager_level_1_or_2",
                                   condition=models.Q(manager_level__in=[1, 2])),
        ]


class Question(CatalogOwned):
    """Asked of the requestor; approvers see the answers."""

    catalog_path = "policy__access_package__catalog_id"

    policy = models.ForeignKey(AssignmentPolicy, on_delete=models.CASCADE,
                               related_name="questions")
    sequence = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=QuestionKind, default=QuestionKind.TEXT)
    text = models.CharField(max_length=500)
    # {"fr": "Pourquoi ?"}: shown to people whose language has an entry.
    localizations = models.JSONField(default=dict, blank=True)
    is_required = models.BooleanField(default=True)
    is_answer_editable = models.BooleanField(default=False)
    is_single_line = models.BooleanField(default=True)
    regex_pattern = models.CharField(max_length=500, blank=True)
    # [{"value": "eu", "text": "Europe", "localizations": {"fr": "Europe"}}]
    choices = models.JSONField(default=list, blank=True)
    allows_multiple_selection = models.BooleanField(default=False)

    class Meta:
        ordering = ["policy_id", "sequence", "id"]

    def __str__(self):
        return self.text

    def text_for(self, language: str | None) -> str:
        return self.localizations.get(language or "", self.text)
