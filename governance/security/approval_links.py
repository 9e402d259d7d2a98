"""Personal approval links: signed, one approver and one stage, expiring with the deadline.

A link only ever reads. Deciding is a POST by the signed-in approver through
`stage_decide`, so a mail filter that follows every link changes nothing.
"""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

from governance import clock
from governance.choices import RequestState, StageState
from governance.models import ApprovalStage, StageApprover, User
from governance.selectors.approval_moves import ApprovalMoved, approval_moved_from

SALT = "governance.approval-link"


class LinkProblem(enum.StrEnum):
    ALTERED = "altered"
    EXPIRED = "expired"
    DECIDED = "decided"
    FORWARDED = "forwarded"
    # The stage went to other approvers (the requestor's manager changed).
    MOVED = "moved"


@dataclass(frozen=True)
class LinkCheck:
    """What a link names, and why it cannot be used now (problem None: it can)."""

    problem: LinkProblem | None
    stage: ApprovalStage | None = None
    approver: User | None = None
    expires_at: datetime | None = None
    moved: ApprovalMoved | None = None


def approval_link_token(stage: ApprovalStage, approver_id: int) -> str:
    # No timestamp: the same stage and approver always give the same link, so a reminder
    # carries the link of the first email. Expiry is the stage's deadline, signed inside.
    return signing.Signer(salt=SALT).sign_object(
        {"r": stage.request_id, "s": stage.pk, "a": approver_id,
         "e": int(stage.due_at.timestamp())}, compress=True)


def approval_link_url(stage: ApprovalStage, approver_id: int) -> str:
    path = reverse("approval_link", args=[approval_link_token(stage, approver_id)])
    return f"{settings.SITE_URL}{path}"


def _payload(token: str) -> dict | None:
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    fields = ("r", "s", "a", "e")
    if not isinstance(payload, dict) or not all(isinstance(payload.get(f), int) for f in fields):
        return None
    return payload


def approval_link_check(token: str, user: User | None) -> LinkCheck:
    """Read what the link names and whether `user` (None: nobody signed in) may act on it."""
    payload = _payload(token)
    if payload is None:
        return LinkCheck(LinkProblem.ALTERED)
    stage = (ApprovalStage.objects.filter(pk=payload["s"], request_id=payload["r"])
             .select_related("request__access_package", "request__requestor__manager",
                             "request__target__connected_organization", "request__target__manager",
                             "decision__approver")
             .first())
    row = StageApprover.objects.filter(stage=stage, user_id=payload["a"]).select_related(
        "user").first() if stage else None
    expires_at = datetime.fromtimestamp(payload["e"], tz=UTC)
    if row is None:
        moved = approval_moved_from(payload["a"], stage.pk) if stage else None
        if moved is None:
            return LinkCheck(LinkProblem.ALTERED)
        if user is not None and user.pk != payload["a"]:
            return LinkCheck(LinkProblem.FORWARDED, stage=stage, expires_at=expires_at,
                             approver=User.objects.filter(pk=payload["a"]).first())
        return LinkCheck(LinkProblem.MOVED, stage=stage, expires_at=expires_at, moved=moved)
    check = dict(stage=stage, approver=row.user, expires_at=expires_at)
    if user is not None and user.pk != row.user_id:
        return LinkCheck(LinkProblem.FORWARDED, **check)
    waiting = (stage.state == StageState.IN_PROGRESS
               and stage.request.state == RequestState.PENDING_APPROVAL)
    if stage.state == StageState.TIMED_OUT or (waiting and clock.now() >= expires_at):
        return LinkCheck(LinkProblem.EXPIRED, **check)
    if not waiting:
        return LinkCheck(LinkProblem.DECIDED, **check)
    return LinkCheck(None, **check)
