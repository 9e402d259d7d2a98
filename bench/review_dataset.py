"""The review benchmark's data set: N people holding one package under one policy whose
reviews are self-reviews with recommendations, built in SQL (setup, not measured); and the
counts that check a started review."""

from datetime import UTC, datetime, timedelta

from expiry_dataset import truncate

BENCH_DOMAIN = "review.bench.example"
# The review period measured: a quarterly self-review that began this morning.
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
REVIEW_TABLES = ("governance_decisionreviewer", "governance_reviewreviewer",
                 "governance_reviewdecision", "governance_accessreview",
                 "governance_outboxmessage", "governance_auditevent")


def review_settings() -> dict:
    from governance.choices import ReviewRecurrence
    from governance.models.review_settings import ReviewSettings

    return ReviewSettings(is_enabled=True, recurrence=ReviewRecurrence.QUARTERLY,
                          start_at=START, duration=timedelta(days=14), is_self_review=True,
                          is_recommendation_enabled=True).to_graph()


def build(n: int) -> dict:
    """One catalog, package and policy; n members, each with a delivered assignment. Every
    other person signed in yesterday, the rest 40 days ago or never (so half of the
    recommendations are Deny)."""
    from django.db import connection, transaction

    from governance.choices import AllowedTargetScope, ExpirationType
    from governance.models import AccessPackage, AssignmentPolicy, Catalog, TenantSettings

    truncate()
    with transaction.atomic():
        TenantSettings.current()
        catalog = Catalog.objects.create(display_name="Review bench catalog")
        package = AccessPackage.objects.create(catalog=catalog, display_name="Reviewed package")
        policy = AssignmentPolicy.objects.create(
            access_package=package, display_name="Reviewed policy",
            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False, expiration_type=ExpirationType.NO_EXPIRATION,
            review_settings=review_settings())
        params = {"n": n, "domain": BENCH_DOMAIN, "package": package.pk, "policy": policy.pk,
                  "start": START}
        with connection.cursor() as cur:
            cur.execute("""
                INSERT INTO governance_user (password, is_superuser, username, first_name,
                    last_name, email, is_staff, is_active, date_joined, display_name, user_type,
                    subject_lifecycle, account_state, preferred_language, time_zone, last_login)
                SELECT '!', false, 'reviewed' || g || '@' || %(domain)s, '', '',
                    'reviewed' || g || '@' || %(domain)s, false, true, now(),
                    'Reviewed user ' || g, 'member', 'notDefined', 'active', '', '',
                    CASE g %% 4 WHEN 0 THEN NULL WHEN 2 THEN %(start)s - interval '40 days'
                         ELSE %(start)s - interval '1 day' END
                FROM generate_series(1, %(n)s) AS g""", params)
            cur.execute("""
                INSERT INTO governance_assignment (access_package_id, policy_id, target_id, state,
                    status, start_at, expires_at, created_at, end_reason)
                SELECT %(package)s, %(policy)s, u.id, 'delivered', 'Delivered',
                    %(start)s - interval '200 days', NULL, %(start)s - interval '200 days', ''
                FROM governance_user u WHERE u.email LIKE '%%@' || %(domain)s ORDER BY u.id""",
                        params)
    analyze()
    return {"package": package.pk, "policy": policy.pk}


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:  # autocommit: VACUUM may not run in a transaction
        cur.execute("VACUUM (ANALYZE) governance_user, governance_assignment, "
                    + ", ".join(REVIEW_TABLES))


def reset() -> None:
    """Forget every review, email and audit event (TRUNCATE: the audit log refuses DELETE),
    keeping the people and their assignments."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(REVIEW_TABLES)} RESTART IDENTITY CASCADE")
    analyze()


def counts() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""
            SELECT
              (SELECT count(*) FROM governance_accessreview),
              (SELECT count(*) FROM governance_reviewdecision),
              (SELECT count(*) FROM governance_reviewdecision WHERE recommendation = 'Deny'),
              (SELECT count(*) FROM governance_reviewdecision WHERE recommendation = 'Approve'),
              (SELECT count(*) FROM governance_decisionreviewer x
                 JOIN governance_reviewdecision d ON d.id = x.decision_id
                 WHERE x.user_id = d.principal_id),
              (SELECT count(*) FROM governance_decisionreviewer),
              (SELECT count(*) FROM governance_outboxmessage WHERE topic = 'review_started'),
              (SELECT count(*) FROM governance_auditevent WHERE action = 'review.started')""")
        keys = ("reviews", "decisions", "deny", "approve", "self_reviewers",
                "decision_reviewers", "emails", "audit")
        return dict(zip(keys, cur.fetchone(), strict=True))


def expected(n: int) -> dict:
    deny = n // 4 + (n + 2) // 4  # g % 4 == 0 (never) or == 2 (40 days ago)
    return {"reviews": 1, "decisions": n, "deny": deny, "approve": n - deny,
            "self_reviewers": n, "decision_reviewers": n, "emails": n, "audit": 1}
