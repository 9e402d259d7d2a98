"""Celery tasks: take ids, call a service, nothing more. Every one is safe to run twice."""

from functools import partial

from celery import shared_task
from django.db import InterfaceError, OperationalError

from governance.services import (
    accounts,
    approvals,
    automatic,
    bulk_assignments,
    delivery,
    expiry,
    extensions,
    guests,
    outbox,
    people_import,
    review_start,
    reviews,
)

# A task that meets a lost database connection (a restart, a failover) is tried again a few
# times with backoff instead of waiting for the minute sweep; every task is safe to repeat.
task = partial(shared_task, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2,
               retry_backoff_max=60, retry_jitter=True, max_retries=5)


@task()
def deliver_assignments(assignment_ids: list[int]) -> int:
    return delivery.deliveries_process(assignment_ids=assignment_ids)


@task()
def process_accounts() -> int:
    return accounts.accounts_process()


@task()
def run_bulk_assignment(job_id: int) -> int:
    return bulk_assignments.bulk_assignment_run(job_id=job_id)


@task()
def run_people_import(job_id: int) -> int:
    return people_import.people_import_run(job_id=job_id)


@task()
def send_outbox(message_id: int | None = None) -> int:
    return outbox.outbox_send_due(message_id=message_id)


@task()
def sweep_approvals() -> dict:
    return {"reminded": approvals.stages_remind_due(),
            "escalated": approvals.stages_escalate_due(),
            "timedOut": approvals.stages_time_out_due(),
            "extensionsTimedOut": extensions.extensions_time_out_due()}


@task()
def sweep_expirations() -> dict:
    return {"warned": expiry.assignments_warn_expiring(),
            "expired": expiry.assignments_expire_due()}


@task()
def sweep_deliveries() -> dict:
    return {"started": delivery.requests_start_scheduled(),
            "delivered": delivery.deliveries_process(),
            "accounts": accounts.accounts_process()}


@task()
def sweep_bulk_assignments() -> dict:
    """Bulk jobs whose task was lost or whose worker died: assignments and people imports."""
    return {"assignments": bulk_assignments.bulk_assignments_resume(),
            "peopleImports": people_import.people_imports_resume()}


@task()
def sweep_outbox() -> int:
    return outbox.outbox_send_due()


@task()
def sweep_guests() -> dict:
    return {"blocked": guests.guests_block_orphaned(), "deleted": guests.guests_delete_due()}


@task()
def sweep_reviews() -> dict:
    return {"started": review_start.reviews_start_due(),
            "reminded": reviews.reviews_remind_due(),
            "ended": reviews.reviews_end_due()}


@task()
def run_rule_evaluation(evaluation_id: int) -> dict:
    evaluation = automatic.rule_evaluation_run(evaluation_id=evaluation_id)
    return {"state": evaluation.state if evaluation else "notClaimed"}


@task()
def evaluate_person_rules(user_id: int) -> dict:
    return automatic.person_rules_evaluate(user_id=user_id).__dict__


@task()
def sweep_automatic_policies() -> dict:
    """Reconcile every automatic policy (repairs drift, ends removals whose grace ended) and
    rerun evaluations whose message was lost."""
    resumed = automatic.rule_evaluations_resume()
    return {"resumed": resumed, **automatic.automatic_policies_reconcile().__dict__}
