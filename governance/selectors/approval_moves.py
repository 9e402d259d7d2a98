"""Approval stages that moved away from an approver: when the requestor's manager changed,
the mover (governance.services.people) handed the stage to the new manager, and the old
one's link and Approvals page say where it went."""

from dataclasses import dataclass
from datetime import datetime

from governance.models import AuditEvent

# The audit event of a stage that moved to other approvers as the requestor's manager changed
# (governance.services.people's mover); its details name who it moved from and to.
STAGE_REROUTED = "stage.rerouted"


@dataclass(frozen=True)
class ApprovalMoved:
    """A stage that no longer waits for someone: it went to `to` when `person`'s manager
    changed."""

    to: tuple[str, ...]
    person: str
    at: datetime

    @property
    def message(self) -> str:
        reason = f"when {self.person}’s manager changed"
        if not self.to:
            return f"This approval no longer waits for you: it moved {reason}."
        names = self.to[0] if len(self.to) == 1 else \
            f"{', '.join(self.to[:-1])} and {self.to[-1]}"
        return f"This approval moved to {names} {reason}."


def approval_moved_from(user_id: int, stage_id: int) -> ApprovalMoved | None:
    """The last move of the stage away from this person, if it moved away from them. Read
    from the audit log, which keeps who the stage left and for whom."""
    events = (AuditEvent.objects.filter(action=STAGE_REROUTED, object_type="approvalstage",
                                        object_id=str(stage_id))
              .order_by("-at", "-id").values_list("at", "details"))
    for at, details in events:
        if user_id in (details.get("fromUserIds") or []):
            return ApprovalMoved(to=tuple(details.get("to") or ()),
                                 person=details.get("personName", ""), at=at)
    return None
