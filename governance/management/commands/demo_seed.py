"""Load the demo data: a connected organisation, two catalogs, two packages, their people.

Idempotent: when the demo catalog already exists it changes nothing. Catalogs, resources,
packages, policies and questions are made through the configuration services, as an
administrator and the catalog owner would make them in the admin; the people, their groups
and the connected organisation are written directly (the directory is the demo's given).
Requests and decisions are not seeded, so every state change the demo shows goes through the
services too. The only assignments seeded are those of the automatic policy "Everyone in
Sales" (on the package "Sales workspace"), made by running its rule evaluation, the job that
saving the policy queues, as a worker would run it.

With DEMO_SCIM_URL set (a running scim2-server, say), the demo also connects that SCIM
application and offers its group in the Sales catalog as the package "Sales CRM": requests
for it are delivered into the SCIM application (see the README).
"""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from governance.choices import (
    AllowedTargetScope,
    CatalogRole,
    CatalogState,
    ConnectedOrganizationState,
    ExpirationType,
    IdentitySourceType,
    QuestionKind,
    SubjectLifecycle,
    SubjectSetType,
    SystemKind,
    UserType,
)
from governance.connectors import ConnectorError, connector_for_system
from governance.models import (
    AssignmentPolicy,
    Catalog,
    ConnectedOrganization,
    Group,
    IdentitySource,
    ProvisioningClient,
    ResourceRole,
    RuleEvaluation,
    TargetSystem,
    TenantSettings,
    User,
)
from governance.security.env import env
from governance.services.automatic import rule_evaluation_run
from governance.services.catalogs import catalog_create, catalog_role_grant, catalog_role_revoke
from governance.services.delivery import deliveries_process
from governance.services.errors import Refused
from governance.services.packages import package_create, package_role_add
from governance.services.people import person_create
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec, StageSpec
from governance.services.provisioning_clients import provisioning_client_create
from governance.services.questions import question_save
from governance.services.resources import resource_add
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_save

DEMO_CATALOG = "Sales"
DEMO_SCIM_SYSTEM = "Demo SCIM app"
DEMO_SCIM_GROUP = "Sales CRM users"
DEMO_IDP = "Demo identity provider"
DEMO_AUTOMATIC = "Everyone in Sales"
DEMO_AUTOMATIC_PACKAGE = "Sales workspace"
DEMO_SCIM_TOKEN_FILE = settings.VAR_DIR / "demo_scim_token"
ADMIN_PASSWORD = "demo-admin-1"
PASSWORD = "demo-password-1"

# (email, password, display name, who they are in the demo)
SIGN_INS = [
    ("admin@access.example", ADMIN_PASSWORD, "Ada Admin",
     "superuser: Django admin at /admin/"),
    ("owner@access.example", PASSWORD, "Olivia Owner",
     "catalog owner of Sales and Finance"),
    ("sales.approver@access.example", PASSWORD, "Sam Seller",
     "approves Sales partner access; sponsor of Contoso Partners; in Sales"),
    ("finance.approver@access.example", PASSWORD, "Fiona Figures",
     "Finance audit stage 1 (Alice's manager, and the fallback approver)"),
    ("finance.director@access.example", PASSWORD, "Dan Director",
     "Finance audit stage 2"),
    ("alice@access.example", PASSWORD, "Alice Archer",
     "internal requester (member)"),
    ("bob@contoso.example", PASSWORD, "Bob Builder",
     "external requester (guest of Contoso Partners)"),
]


def sign_ins_table() -> str:
    width = max(len(email) for email, *_ in SIGN_INS)
    lines = [f"  {'Sign-in'.ljust(width)}  {'Password'.ljust(15)}  Who"]
    lines += [f"  {email.ljust(width)}  {password.ljust(15)}  {name}: {who}"
              for email, password, name, who in SIGN_INS]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Load the demo data (a connected organisation, two catalogs, two packages, people)."

    def handle(self, *args, **options):
        if Catalog.objects.filter(display_name=DEMO_CATALOG).exists():
            self.stdout.write("Demo data already loaded: nothing to do.")
        else:
            with transaction.atomic():
                self.seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        scim_url = env("DEMO_SCIM_URL")
        if scim_url and not TargetSystem.objects.filter(display_name=DEMO_SCIM_SYSTEM).exists():
            self.seed_scim(scim_url)
        if not ProvisioningClient.objects.filter(display_name=DEMO_IDP).exists():
            self.seed_provisioning()
        if not AssignmentPolicy.objects.filter(is_automatic=True,
                                               display_name=DEMO_AUTOMATIC).exists():
            self.seed_automatic()
        self.stdout.write("Sign-ins:\n" + sign_ins_table())

    def seed_provisioning(self) -> None:
        """A provisioning client for the demo, as an identity provider would have, and one
        person it provisioned over SCIM's services. Its token is kept in var/ (the demo's
        only: a real client's token is shown once) so that `make demo` can print it."""
        client, token = provisioning_client_create(actor=None, display_name=DEMO_IDP,
                                                   system=True)
        manager = User.objects.get(email="sales.approver@access.example")
        person_create(actor=client.principal, values={
            "email": "priya@access.example", "display_name": "Priya Provisioned",
            "first_name": "Priya", "last_name": "Provisioned", "external_id": "demo-00u1",
            "department": "Sales", "job_title": "Account executive", "employee_id": "E1001",
            "employee_type": "Employee", "manager_id": manager.pk})
        DEMO_SCIM_TOKEN_FILE.write_text(token)
        DEMO_SCIM_TOKEN_FILE.chmod(0o600)
        self.stdout.write(f"Provisioning client “{DEMO_IDP}” registered; it provisioned "
                          "priya@access.example (SCIM token in var/demo_scim_token).")

    def seed_automatic(self) -> None:
        """The package "Sales workspace" (Member of Sales Team) and its automatic policy
        "Everyone in Sales", as the catalog owner saves it; then its queued rule evaluation,
        run here as a worker would, so the people of Sales (Sam, Priya) hold the package when
        the demo starts, and their deliveries into Sales Team."""
        owner = User.objects.get(email=SIGN_INS[1][0])
        sales = Catalog.objects.get(display_name=DEMO_CATALOG)
        team = ResourceRole.objects.get(resource__catalog=sales,
                                        resource__display_name="Sales Team",
                                        display_name="Member")
        with transaction.atomic():
            package = package_create(
                actor=owner, catalog_id=sales.pk, display_name=DEMO_AUTOMATIC_PACKAGE,
                description="The sales team's workspace, for everyone in Sales.")
            package_role_add(actor=owner, package_id=package.pk, role_id=team.pk)
            policy = policy_save(
                actor=owner, access_package_id=package.pk,
                spec=PolicySpec(
                    display_name=DEMO_AUTOMATIC, is_automatic=True,
                    membership_rule='user.department -eq "Sales"',
                    membership_rule_description="Everyone whose department is Sales.",
                    expiration_type=ExpirationType.NO_EXPIRATION, expiration_duration=None,
                    grace_period_before_access_removal=timedelta(days=7)))
        # The worker then finds the evaluation claimed and leaves it (and if a worker was
        # first, this run leaves it).
        evaluation_id = policy.rule_evaluations.order_by("-pk").values_list("pk", flat=True)[0]
        rule_evaluation_run(evaluation_id=evaluation_id)
        deliveries_process()
        evaluation = RuleEvaluation.objects.get(pk=evaluation_id)
        self.stdout.write(f"Automatic policy “{DEMO_AUTOMATIC}” on “{DEMO_AUTOMATIC_PACKAGE}”: "
                          f"{evaluation.added} people of Sales assigned ({evaluation.state}).")

    def seed_scim(self, url: str) -> None:
        """Connect the SCIM application at `url` and offer its group as "Sales CRM".

        The token is PORTAL_SECRET_DEMO_SCIM_TOKEN when set; a scim2-server started without
        --bearer-token accepts any, so the demo then stores a placeholder.
        """
        admin = User.objects.get(email=SIGN_INS[0][0])
        owner = User.objects.get(email=SIGN_INS[1][0])
        sales = Catalog.objects.get(display_name=DEMO_CATALOG)
        token_env = "PORTAL_SECRET_DEMO_SCIM_TOKEN" if env("PORTAL_SECRET_DEMO_SCIM_TOKEN") else ""
        try:
            system = system_save(actor=admin, display_name=DEMO_SCIM_SYSTEM, kind=SystemKind.SCIM,
                                 base_url=url, secret_env=token_env,
                                 secret_value=None if token_env else "demo-scim-token")
            group_id = connector_for_system(system).create_group(DEMO_SCIM_GROUP)
            self.stdout.write(str(system_refresh(actor=admin, system_id=system.pk,
                                                 catalog_id=sales.pk)))
        except (ConnectorError, Refused) as exc:
            self.stderr.write(f"The SCIM application at {url} was not connected: {exc}")
            TargetSystem.objects.filter(display_name=DEMO_SCIM_SYSTEM, resources=None).delete()
            return
        role = ResourceRole.objects.get(resource__system=system, resource__origin_id=group_id,
                                        resource__catalog=sales)
        with transaction.atomic():
            package = package_create(
                actor=owner, catalog_id=sales.pk, display_name="Sales CRM",
                description=f"An account in the sales CRM (the SCIM application at {url}).")
            package_role_add(actor=owner, package_id=package.pk, role_id=role.pk)
            policy_save(
                actor=owner, access_package_id=package.pk,
                spec=PolicySpec(
                    display_name="Everyone in the directory, no approval",
                    allowed_target_scope=AllowedTargetScope.ALL_DIRECTORY_USERS,
                    is_approval_required_for_add=False,
                    expiration_type=ExpirationType.AFTER_DURATION,
                    expiration_duration=timedelta(days=30), stages=[]))
        self.stdout.write(self.style.SUCCESS(
            f"Connected the SCIM application at {url}: request “Sales CRM” to be delivered "
            f"into its group “{DEMO_SCIM_GROUP}”."))

    def seed(self):
        TenantSettings.current()
        people = {name: self.person(email, password, name)
                  for email, password, name, _ in SIGN_INS}
        admin = people["Ada Admin"]
        owner = people["Olivia Owner"]
        sales_approver = people["Sam Seller"]
        finance_approver = people["Fiona Figures"]
        finance_director = people["Dan Director"]
        alice = people["Alice Archer"]
        bob = people["Bob Builder"]

        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])

        contoso = ConnectedOrganization.objects.create(
            display_name="Contoso Partners",
            description="Contoso's sales partners.",
            state=ConnectedOrganizationState.CONFIGURED,
        )
        IdentitySource.objects.create(organization=contoso,
                                      source_type=IdentitySourceType.DOMAIN,
                                      display_name="contoso.example",
                                      domain_name="contoso.example")
        contoso.internal_sponsors.add(sales_approver)

        # Approvers see a requestor's job title, department and manager.
        finance_approver.job_title, finance_approver.department = "Finance manager", "Finance"
        finance_approver.save(update_fields=["job_title", "department"])
        sales_approver.job_title, sales_approver.department = "Sales manager", "Sales"
        sales_approver.save(update_fields=["job_title", "department"])
        alice.manager = finance_approver
        alice.job_title, alice.department = "Financial analyst", "Finance"
        alice.save(update_fields=["manager", "job_title", "department"])
        bob.user_type = UserType.GUEST
        bob.connected_organization = contoso
        bob.subject_lifecycle = SubjectLifecycle.GOVERNED
        bob.job_title, bob.department = "Partner account manager", "Partner sales"
        bob.company_name = "Contoso"
        bob.save(update_fields=["user_type", "connected_organization", "subject_lifecycle",
                                "job_title", "department", "company_name"])

        sales = self.catalog(admin, owner, "Sales",
                             "Access for the sales team and its partners.",
                             is_externally_visible=True)
        finance = self.catalog(admin, owner, "Finance", "Finance systems and audit access.",
                               is_externally_visible=False)

        members = {}
        for catalog, name, description in [
            (sales, "Sales Team", "Everyone who sells."),
            (sales, "Sales Reports Readers", "Read the weekly sales reports."),
            (finance, "Finance Team", "The finance department."),
            (finance, "Finance Auditors", "Auditors during an audit engagement."),
        ]:
            members[name] = self.group_resource(admin, catalog, name, description)

        # One stage, for users of configured connected organizations (Bob).
        sales_package = package_create(
            actor=owner, catalog_id=sales.pk, display_name="Sales partner access",
            description="The sales team's workspace and weekly reports, for partners.")
        for role in (members["Sales Team"], members["Sales Reports Readers"]):
            package_role_add(actor=owner, package_id=sales_package.pk, role_id=role.pk)
        policy_save(
            actor=owner, access_package_id=sales_package.pk,
            spec=PolicySpec(
                display_name="Partners, approved by the sales approver",
                allowed_target_scope=AllowedTargetScope.ALL_CONFIGURED_CONNECTED_ORG_USERS,
                is_approval_required_for_add=True, is_requestor_justification_required=True,
                expiration_type=ExpirationType.AFTER_DURATION,
                expiration_duration=timedelta(days=90),
                stages=[StageSpec(approvers=[sales_approver], deadline_days=14)]))

        # Two stages and a question, for everyone in the directory (Alice, and guests).
        finance_package = package_create(
            actor=owner, catalog_id=finance.pk, display_name="Finance audit",
            description="Read access to the finance systems for one audit engagement.")
        package_role_add(actor=owner, package_id=finance_package.pk,
                         role_id=members["Finance Auditors"].pk)
        finance_policy = policy_save(
            actor=owner, access_package_id=finance_package.pk,
            spec=PolicySpec(
                display_name="Directory users, approved by their manager and the director",
                allowed_target_scope=AllowedTargetScope.ALL_DIRECTORY_USERS,
                is_approval_required_for_add=True, expiration_type=ExpirationType.AFTER_DURATION,
                expiration_duration=timedelta(days=30),
                stages=[StageSpec(dynamic_approver=SubjectSetType.REQUESTOR_MANAGER,
                                  fallback_approvers=[finance_approver]),
                        StageSpec(approvers=[finance_director])]))
        question_save(
            actor=owner, policy_id=finance_policy.pk, sequence=1, kind=QuestionKind.TEXT,
            text="Which audit engagement is this for?",
            localizations={"fr": "Pour quelle mission d'audit est-ce ?"},
            is_required=True, regex_pattern=r"^[A-Z]{3}-\d{4}$")

    def catalog(self, admin: User, owner: User, name: str, description: str, *,
                is_externally_visible: bool) -> Catalog:
        """A published catalog that the administrator creates and hands to the owner."""
        catalog = catalog_create(actor=admin, display_name=name, description=description,
                                 state=CatalogState.PUBLISHED,
                                 is_externally_visible=is_externally_visible)
        catalog_role_grant(actor=admin, catalog_id=catalog.pk, user=owner,
                           role=CatalogRole.OWNER)
        catalog_role_revoke(actor=admin, catalog_id=catalog.pk, user=admin,
                            role=CatalogRole.OWNER)
        return catalog

    def person(self, email: str, password: str, display_name: str) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password,
                                            display_name=display_name)
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True})
        return user

    def group_resource(self, admin: User, catalog: Catalog, name: str,
                       description: str) -> ResourceRole:
        """A directory group, offered in the catalog as a resource; returns its Member role."""
        group = Group.objects.create(display_name=name, description=description)
        resource = resource_add(actor=admin, catalog_id=catalog.pk, group_id=group.pk)
        return resource.roles.get(display_name="Member")
