"""Assignment requests, their answers, and their approval stages with decisions."""

from django.db import models

from governance.choices import (
    REQUEST_OPEN,
    ApproverKind,
    Decision,
    RequestState,
    RequestType,
    StageState,
)
from governance.models.visibility import CatalogOwned


class AssignmentRequest(CatalogOwned):
    catalog_path = "access_package__catalog_id"

    request_type = models.CharField(max_length=16, choices=RequestType)
    state = models.CharField(max_length=20, choices=RequestState, default=RequestState.SUBMITTED)
    # Graph's free-text status: why the request is where it is ("Expired", "Delivered", ...).
    status = models.CharField(max_length=200, blank=True)
    access_package = models.ForeignKey("governance.AccessPackage", on_delete=models.PROTECT,
                                       related_name="requests")
    policy = models.ForeignKey("governance.AssignmentPolicy", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="requests")
    requestor = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                                  related_name="requests_made")
    target = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                               related_name="requests_for")
    assignment = models.ForeignKey("governance.Assignment", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="requests")
    justification = models.TextField(blank=True)
    schedule_start_at = models.DateTimeField(null=True, blank=True)
    schedule_end_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "access_package"],
                condition=models.Q(state__in=REQUEST_OPEN),
                name="one_open_request_per_target_and_package",
            ),
        ]
        indexes = [models.Index(fields=["state", "schedule_start_at"])]

    def __str__(self):
        return f"{self.get_request_type_display()} {self.access_package} for {self.target}"

    @property
    def is_open(self) -> bool:
        return self.state in REQUEST_OPEN


class RequestAnswer(models.Model):
    # The longest answer a text question accepts (the request form's limit too).
    VALUE_MAX = 2000

    request = models.ForeignKey(AssignmentRequest, on_delete=models.CASCADE,
                                related_name="answers")
    question = models.ForeignKey("governance.Question", on_delete=models.PROTECT,
                                 related_name="answers")
    # The answer as typed, or the chosen values of a multiple-choice question.
    value = models.TextField(blank=True)
    values = models.JSONField(default=list, blank=True)
    display_value = models.TextField(blank=True)

    class Meta:
        ordering = ["question__sequence", "question_id"]
        constraints = [models.UniqueConstraint(fields=["request", "question"],
                                               name="one_answer_per_question")]


class ApprovalStage(models.Model):
    """One stage of one request's approval (approvalStage)."""

    request = models.ForeignKey(AssignmentRequest, on_delete=models.CASCADE,
                                related_name="stages")
    order = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=12, choices=StageState, default=StageState.NOT_STARTED)
    is_approver_justification_required = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    escalation_due_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Halfway to the deadline, then one day before it; None when no reminder is left.
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    approvers = models.ManyToManyField("governance.User", through="StageApprover",
                                       related_name="approval_stages")

    class Meta:
        ordering = ["request_id", "order"]
        constraints = [models.UniqueConstraint(fields=["request", "order"],
                                               name="one_stage_row_per_order")]
        indexes = [models.Index(fields=["state", "due_at"]),
                   models.Index(fields=["state", "escalation_due_at"]),
                   models.Index(fields=["state", "next_reminder_at"])]

    def __str__(self):
        return f"Stage {self.order} of request {self.request_id}"

    @property
    def is_escalated(self) -> bool:
        return self.escalated_at is not None

    @property
    def review_result(self) -> str:
        return {StageState.APPROVED: "Approved", StageState.DENIED: "Denied"}.get(
            self.state, "NotReviewed")


class StageApprover(models.Model):
    """An approver resolved for a stage when it started (or escalated)."""

    stage = models.ForeignKey(ApprovalStage, on_delete=models.CASCADE,
                              related_name="stage_approvers")
    user = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                             related_name="stage_approver_rows")
    kind = models.CharField(max_length=10, choices=ApproverKind)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stage", "user"],
                                               name="one_approver_row_per_stage")]


class ApprovalDecision(models.Model):
    """The decision of a stage; the one-to-one makes "the first decision wins" a database fact."""

    stage = models.OneToOneField(ApprovalStage, on_delete=models.CASCADE, related_name="decision")
    approver = models.ForeignKey("governance.User", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="decisions")
    # Null approver with result Deny: the stage timed out.
    result = models.CharField(max_length=8, choices=Decision)
    justification = models.TextField(blank=True)
    decided_at = models.DateTimeField()
