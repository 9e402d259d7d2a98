"""The benchmark's data set: N due assignments with two local-group roles each, built in SQL
(setup, not measured), and the counts that check a sweep's result."""

BENCH_DOMAIN = "bench.example"


def governance_tables() -> list[str]:
    from django.apps import apps

    return sorted({model._meta.db_table for model in
                   apps.get_app_config("governance").get_models(include_auto_created=True)})


def truncate() -> None:
    """Empty the governance tables (TRUNCATE: the audit trigger refuses row DELETEs)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(
            connection.ops.quote_name(t) for t in governance_tables())))


def insert_users(cur, n: int, domain: str = BENCH_DOMAIN) -> None:
    """N members bench1@<domain> … benchN@<domain>, in one INSERT … SELECT."""
    cur.execute("""
        INSERT INTO governance_user (password, is_superuser, username, first_name,
            last_name, email, is_staff, is_active, date_joined, display_name, user_type,
            subject_lifecycle, account_state, preferred_language, time_zone)
        SELECT '!', false, 'bench' || g || '@' || %(domain)s, '', '',
            'bench' || g || '@' || %(domain)s, false, true, now(), 'Bench user ' || g,
            'member', 'notDefined', 'active', '', ''
        FROM generate_series(1, %(n)s) AS g""", {"n": n, "domain": domain})


def build(n: int, emails: bool) -> dict:
    """One catalog, a package of two group Member roles, a policy; n members each holding a
    delivered, already expired assignment with two done grants and two memberships."""
    from django.db import connection, transaction

    from governance.choices import AllowedTargetScope, ExpirationType, OriginSystem
    from governance.models import (
        AccessPackage,
        AssignmentPolicy,
        Catalog,
        Group,
        Resource,
        ResourceRole,
        ResourceRoleScope,
        TenantSettings,
    )

    truncate()
    with transaction.atomic():
        TenantSettings.current()
        catalog = Catalog.objects.create(display_name="Bench catalog")
        package = AccessPackage.objects.create(catalog=catalog, display_name="Bench package")
        groups = []
        for name in ("Bench group A", "Bench group B"):
            group = Group.objects.create(display_name=name)
            resource_ = Resource.objects.create(
                catalog=catalog, display_name=name, origin_system=OriginSystem.GROUP,
                origin_id=str(group.pk), connector="local")
            role = ResourceRole.objects.create(resource=resource_, display_name="Member",
                                               origin_id=f"Member_{group.pk}")
            ResourceRoleScope.objects.create(access_package=package, role=role)
            groups.append(group.pk)
        policy = AssignmentPolicy.objects.create(
            access_package=package, display_name="Bench policy",
            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False, expiration_type=ExpirationType.AFTER_DURATION,
            send_assignment_emails=emails)
        params = {"n": n, "domain": BENCH_DOMAIN, "package": package.pk, "policy": policy.pk}
        with connection.cursor() as cur:
            insert_users(cur, n)
            cur.execute("""
                INSERT INTO governance_assignment (access_package_id, policy_id, target_id, state,
                    status, start_at, expires_at, created_at, end_reason)
                SELECT %(package)s, %(policy)s, u.id, 'delivered', 'Delivered',
                    now() - interval '30 days', now() - interval '1 hour' + u.id * interval '1 ms',
                    now() - interval '30 days', ''
                FROM governance_user u WHERE u.email LIKE '%%@' || %(domain)s ORDER BY u.id""",
                        params)
            cur.execute("""
                INSERT INTO governance_roledelivery (assignment_id, role_id, action, state,
                    attempts, last_error, note, claimed_at, completed_at)
                SELECT a.id, s.role_id, 'grant', 'done', 1, '', '', a.start_at, a.start_at
                FROM governance_assignment a
                JOIN governance_resourcerolescope s ON s.access_package_id = a.access_package_id
                ORDER BY a.id, s.role_id""")
            cur.execute("""
                INSERT INTO governance_groupmembership (group_id, user_id, role, created_at)
                SELECT g.id, a.target_id, 'Member', a.start_at
                FROM governance_assignment a CROSS JOIN unnest(%(groups)s::bigint[]) AS g(id)
                ORDER BY a.target_id, g.id""", {"groups": groups})
    with connection.cursor() as cur:  # autocommit: VACUUM may not run in a transaction
        cur.execute("VACUUM (ANALYZE) governance_user, governance_assignment, "
                    "governance_roledelivery, governance_groupmembership")
    return {"package": package.pk, "policy": policy.pk, "groups": groups}


def counts(groups: list[int]) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""
            SELECT
              (SELECT count(*) FROM governance_assignment WHERE state = 'expired'
                 AND end_reason = 'expired' AND ended_at IS NOT NULL),
              (SELECT count(*) FROM governance_assignment WHERE state <> 'expired'),
              (SELECT count(*) FROM governance_groupmembership WHERE group_id = ANY(%s)),
              (SELECT count(*) FROM governance_roledelivery WHERE action = 'revoke'
                 AND state = 'done'),
              (SELECT count(*) FROM governance_roledelivery WHERE state <> 'done'),
              (SELECT count(*) FROM governance_outboxmessage),
              (SELECT count(*) FROM governance_auditevent)""", [groups])
        keys = ("expired", "active", "memberships", "revoked", "open_deliveries", "outbox",
                "audit")
        result = dict(zip(keys, cur.fetchone(), strict=True))
        cur.execute("SELECT action, count(*) FROM governance_auditevent GROUP BY action "
                    "ORDER BY action")
        result["audit_by_action"] = dict(cur.fetchall())
    return result


# ------------------------------------------------------------------------------- the sweep
