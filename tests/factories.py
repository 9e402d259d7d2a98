"""Factories for the engine's objects, and a small world of fixed people to test with."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import factory
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from allauth.mfa.utils import decrypt
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    CatalogRole,
    CatalogState,
    ConnectedOrganizationState,
    ExpirationType,
    IdentitySourceType,
    OriginSystem,
    SubjectSetType,
    UserType,
)
from governance.models import (
    AccessPackage,
    ApprovalStageSetting,
    ApproverSet,
    AssignmentPolicy,
    Catalog,
    CatalogRoleAssignment,
    ConnectedOrganization,
    Group,
    IdentitySource,
    Question,
    Resource,
    ResourceRole,
    ResourceRoleScope,
    User,
)


def with_totp(user: User, secret: str | None = None) -> User:
    """Give `user` an authenticator app as allauth's activation page does: a random secret,
    stored through allauth's adapter. Idempotent."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret or generate_totp_secret())
    return user


def totp_code(user: User, at: datetime | None = None) -> str:
    """The code `user`'s authenticator app shows now (or `at`)."""
    from allauth.mfa import app_settings

    stored = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    moment = (at or datetime.now(UTC)).timestamp()
    return format_hotp_value(hotp_value(decrypt(stored.data["secret"]),
                                        int(moment) // app_settings.TOTP_PERIOD))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"member{n}@access.example")
    username = factory.SelfAttribute("email")
    display_name = factory.LazyAttribute(lambda o: o.email.split("@")[0].title())
    user_type = UserType.MEMBER
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def totp(obj, create, extracted, **kwargs):
        """Global administrators get an authenticator app, as the admin requires of them;
        `totp=False` makes one without, `totp=True` gives anyone one."""
        if create and (obj.is_superuser if extracted is None else extracted):
            with_totp(obj)


class GuestFactory(UserFactory):
    email = factory.Sequence(lambda n: f"guest{n}@contoso.example")
    user_type = UserType.GUEST


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectedOrganization
        skip_postgeneration_save = True

    display_name = factory.Sequence(lambda n: f"Partner {n}")
    state = ConnectedOrganizationState.CONFIGURED

    @factory.post_generation
    def domain(obj, create, extracted, **kwargs):
        if create and extracted:
            IdentitySource.objects.create(organization=obj, domain_name=extracted,
                                          source_type=IdentitySourceType.DOMAIN)


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    display_name = factory.Sequence(lambda n: f"Group {n}")


class CatalogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Catalog

    display_name = factory.Sequence(lambda n: f"Catalog {n}")
    state = CatalogState.PUBLISHED
    is_externally_visible = True


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessPackage

    catalog = factory.SubFactory(CatalogFactory)
    display_name = factory.Sequence(lambda n: f"Package {n}")


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentPolicy

    access_package = factory.SubFactory(PackageFactory)
    display_name = factory.Sequence(lambda n: f"Policy {n}")
    allowed_target_scope = AllowedTargetScope.ALL_DIRECTORY_USERS
    expiration_type = ExpirationType.AFTER_DURATION
    expiration_duration = timedelta(days=30)
    is_approval_required_for_add = False


def role_holder(catalog: Catalog, role: str, *, totp: bool = True, **person) -> User:
    """A member (UserFactory with `person`'s fields) who holds `role` in `catalog`, with the
    authenticator app every catalog role needs (unless `totp=False`)."""
    user = UserFactory(totp=totp, **person)
    CatalogRoleAssignment.objects.create(catalog=catalog, user=user, role=role)
    return user


def csv_upload(text: str | bytes, name: str = "people.csv",
               content_type: str = "text/csv") -> SimpleUploadedFile:
    """An uploaded file, as a bulk assignment form or service receives it."""
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type=content_type)


def group_role(package: AccessPackage, group: Group, role: str = "Member") -> ResourceRole:
    """Add "<role> of <group>" (local connector) to the package, through its catalog."""
    resource, _ = Resource.objects.get_or_create(
        catalog=package.catalog, origin_system=OriginSystem.GROUP, origin_id=str(group.pk),
        defaults={"display_name": group.display_name, "connector": "local"})
    resource_role, _ = ResourceRole.objects.get_or_create(
        resource=resource, origin_id=f"{role}_{group.pk}", defaults={"display_name": role})
    ResourceRoleScope.objects.get_or_create(access_package=package, role=resource_role)
    return resource_role


def add_stage(policy: AssignmentPolicy, *approvers: User, order: int | None = None,
              fallback: list[User] | None = None, escalation: list[User] | None = None,
              escalate_after_days: int | None = None, deadline_days: int = 14,
              justification_required: bool = False,
              approver_type: str = SubjectSetType.SINGLE_USER) -> ApprovalStageSetting:
    """Add a stage with single-user approvers (or a dynamic `approver_type` with no user)."""
    policy.is_approval_required_for_add = True
    policy.save(update_fields=["is_approval_required_for_add"])
    stage = ApprovalStageSetting.objects.create(
        policy=policy, order=order or policy.stages.count() + 1,
        duration_before_automatic_denial_days=deadline_days,
        is_approver_justification_required=justification_required,
        is_escalation_enabled=escalate_after_days is not None,
        duration_before_escalation_days=escalate_after_days)
    if approver_type != SubjectSetType.SINGLE_USER:
        ApproverSet.objects.create(stage=stage, subject_type=approver_type)
    for kind, people in ((ApproverKind.PRIMARY, approvers), (ApproverKind.FALLBACK, fallback),
                         (ApproverKind.ESCALATION, escalation)):
        for person in people or []:
            ApproverSet.objects.create(stage=stage, kind=kind,
                                       subject_type=SubjectSetType.SINGLE_USER, user=person)
    return stage


def add_question(policy: AssignmentPolicy, text: str = "Which project?", **fields) -> Question:
    return Question.objects.create(policy=policy, text=text,
                                   sequence=policy.questions.count(), **fields)


# Monday 2 March 2026, 09:00 UTC: where the out-of-office tests start their week.
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    """Fixed people with telling names, and a package under a two-stage policy."""

    organization: ConnectedOrganization
    requester: User          # an external user of the connected organization
    member: User             # an internal requester
    approver: User           # stage 1
    second_approver: User    # stage 2
    owner: User              # catalog owner
    outsider: User           # a guest of an organization no policy names
    catalog: Catalog
    group: Group
    other_group: Group
    package: AccessPackage
    policy: AssignmentPolicy
    question: Question


def build_world() -> World:
    organization = OrganizationFactory(display_name="Contoso", domain="contoso.example")
    requester = GuestFactory(email="requester@contoso.example",
                             connected_organization=organization)
    outsider_org = OrganizationFactory(display_name="Fabrikam", domain="fabrikam.example")
    outsider = GuestFactory(email="outsider@fabrikam.example",
                            connected_organization=outsider_org)
    member = UserFactory(email="member@access.example")
    approver = UserFactory(email="approver@access.example")
    second_approver = UserFactory(email="second.approver@access.example")
    owner = UserFactory(email="owner@access.example", totp=True)
    catalog = CatalogFactory(display_name="Projects")
    CatalogRoleAssignment.objects.create(catalog=catalog, user=owner, role=CatalogRole.OWNER)
    group = GroupFactory(display_name="Project Falcon")
    other_group = GroupFactory(display_name="Falcon Reports")
    package = PackageFactory(catalog=catalog, display_name="Falcon collaboration")
    group_role(package, group)
    group_role(package, other_group)
    policy = PolicyFactory(
        access_package=package, display_name="Contoso partners",
        allowed_target_scope=AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
        is_requestor_justification_required=True, expiration_duration=timedelta(days=30))
    policy.specific_connected_organizations.add(organization)
    add_stage(policy, approver)
    add_stage(policy, second_approver)
    question = add_question(policy, "Which project code?", regex_pattern=r"[A-Z]{3}-\d{4}")
    return World(organization, requester, member, approver, second_approver, owner, outsider,
                 catalog, group, other_group, package, policy, question)


def snapshot() -> dict:
    """Row counts and states of everything a refused service call must leave alone."""
    from governance.models import (
        ApprovalDecision,
        ApprovalStage,
        Assignment,
        AssignmentRequest,
        AuditEvent,
        GroupMembership,
        OutboxMessage,
        RequestAnswer,
        RoleDelivery,
        StageApprover,
    )

    counted = {
        "requests": AssignmentRequest, "answers": RequestAnswer, "stages": ApprovalStage,
        "stage_approvers": StageApprover, "decisions": ApprovalDecision,
        "audit_events": AuditEvent, "assignments": Assignment, "deliveries": RoleDelivery,
        "outbox": OutboxMessage, "memberships": GroupMembership,
        "organizations": ConnectedOrganization,
    }
    state = {name: model.objects.count() for name, model in counted.items()}
    state["request_states"] = sorted(AssignmentRequest.objects.values_list("id", "state"))
    state["stage_states"] = sorted(ApprovalStage.objects.values_list("id", "state"))
    state["assignment_states"] = sorted(Assignment.objects.values_list("id", "state",
                                                                      "expires_at"))
    state["users"] = sorted(User.objects.values_list("id", "account_state",
                                                     "connected_organization_id"))
    return state


def approve_all(request, *approvers: User) -> None:
    """Approve each stage of `request` in order, one approver per stage."""
    from governance.choices import Decision
    from governance.services.approvals import stage_decide

    for stage, approver in zip(request.stages.order_by("order"), approvers, strict=True):
        stage_decide(stage_id=stage.pk, approver=approver, decision=Decision.APPROVE)
    request.refresh_from_db()


def delivered_assignment(world: World):
    """The requester's request for the world's package, approved and delivered."""
    from governance.services.delivery import deliveries_process
    from governance.services.requests import request_submit

    request = request_submit(requestor=world.requester, access_package_id=world.package.pk,
                             justification="Joining the Falcon project",
                             answers={world.question.pk: "FAL-2026"})
    approve_all(request, world.approver, world.second_approver)
    deliveries_process()
    request.refresh_from_db()
    return request.assignment


def submit_request(world: World, **overrides):
    """The requester's valid request for the world's package; `overrides` change arguments."""
    from governance.services.requests import request_submit

    arguments = {"requestor": world.requester, "access_package_id": world.package.pk,
                 "justification": "Joining the Falcon project",
                 "answers": {world.question.pk: "FAL-2026"}}
    return request_submit(**(arguments | overrides))


def member_package(world: World, **stage_options):
    """A package for all members with one stage; `approvers` defaults to world.approver and
    the other `stage_options` are add_stage's."""
    package = PackageFactory(catalog=world.catalog, display_name="Finance reports")
    group_role(package, world.other_group)
    policy = PolicyFactory(access_package=package,
                           allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)
    add_stage(policy, *stage_options.pop("approvers", [world.approver]), **stage_options)
    return package


def open_package(world: World, **policy_fields):
    """A package in the world's catalog that every user may request without approval."""
    package = PackageFactory(catalog=world.catalog, display_name="Falcon wiki")
    group_role(package, GroupFactory(display_name="Wiki readers"))
    policy = PolicyFactory(access_package=package, display_name="Everyone", **policy_fields)
    return package, policy
