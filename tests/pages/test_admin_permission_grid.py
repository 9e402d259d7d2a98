"""The delegated admin's permission grid: every URL of the admin site, for every role, against
the role's own catalog (Alpha) and another one (Zulu).

The URLs are not listed by hand: they are read from the admin site itself, so an admin page
added later is covered without anyone remembering to add it here (an unknown URL parameter
fails the test until PARAMETER_MODELS says what it names). Three things are checked:
- nothing of Zulu shows to anyone without a role on Zulu: no page, pop-up, autocomplete
  answer, export or history contains the word "Zulu", which only Zulu's objects carry;
- nothing of Zulu changes when they post to its change and delete pages or run any action
  of any changelist on its rows;
- on Alpha, each role can do what the reference (behaviour 11) gives it, and no more.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, reverse

from governance import clock
from governance.admin import admin_site
from governance.choices import CatalogRole, GlobalRole, ReviewDecisionValue, ReviewState
from governance.models import (
    AccessPackage,
    AccessReview,
    Assignment,
    AssignmentPolicy,
    AssignmentRequest,
    AuditEvent,
    BulkAssignmentJob,
    Catalog,
    CatalogRoleAssignment,
    CustomExtension,
    GlobalRoleAssignment,
    PolicyExtensionStage,
    Resource,
    ResourceRole,
    ResourceRoleScope,
    ReviewDecision,
    ReviewReviewer,
    TargetSystem,
)
from governance.models.review_settings import ReviewSettings
from governance.services.bulk_assignments import bulk_assignment_start
from governance.services.extension_config import extension_save, policy_extension_stages_set
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    GuestFactory,
    OrganizationFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    add_question,
    add_stage,
    approve_all,
    csv_upload,
    role_holder,
    snapshot,
)

MARKER = "Zulu"
# Their extensions call hosts that never resolve: a global administrator allow-lists them.
pytestmark = pytest.mark.usefixtures("fictional_hooks_allowed")
# URL parameters other than object_id, and the model whose ids they take.
PARAMETER_MODELS = {"catalog_id": Catalog, "package_id": AccessPackage,
                    "assignment_id": Assignment, "request_id": AssignmentRequest}

ROLES = ["global admin", "catalog creator", "connected organisation admin", "owner",
         "package manager", "assignment manager", "reader", "nobody"]
CATALOG_ROLES = {"owner": CatalogRole.OWNER, "package manager": CatalogRole.PACKAGE_MANAGER,
                 "assignment manager": CatalogRole.ASSIGNMENT_MANAGER,
                 "reader": CatalogRole.READER}
GLOBAL_ROLES = {"catalog creator": GlobalRole.CATALOG_CREATOR,
                "connected organisation admin": GlobalRole.CONNECTED_ORG_ADMIN}


@dataclass
class Side:
    """One catalog with one of everything in it."""

    catalog: Catalog
    package: AccessPackage
    policy: AssignmentPolicy
    request: AssignmentRequest
    assignment: Assignment
    review: AccessReview

    def objects(self) -> dict[type, list]:
        found = {Catalog: [self.catalog], AccessPackage: [self.package],
                 AssignmentPolicy: [self.policy],
                 AssignmentRequest: [self.request, self.assignment_request],
                 Assignment: [self.assignment], AccessReview: [self.review]}
        found[Resource] = list(Resource.objects.filter(catalog=self.catalog))
        found[ResourceRole] = list(ResourceRole.objects.filter(resource__catalog=self.catalog))
        found[ResourceRoleScope] = list(ResourceRoleScope.objects.filter(
            access_package=self.package))
        found[CatalogRoleAssignment] = list(CatalogRoleAssignment.objects.filter(
            catalog=self.catalog))
        found[CustomExtension] = list(CustomExtension.objects.filter(catalog=self.catalog))
        found[BulkAssignmentJob] = list(BulkAssignmentJob.objects.filter(
            access_package=self.package))
        found[TargetSystem] = list(TargetSystem.objects.filter(
            resources__catalog=self.catalog).distinct())
        return found

    @property
    def assignment_request(self) -> AssignmentRequest:
        return self.assignment.requests.first()


def _side(name: str, organization, approver) -> Side:
    from governance.services.delivery import deliveries_process
    from governance.services.requests import request_submit

    catalog = CatalogFactory(display_name=f"{name} catalog")
    package = PackageFactory(catalog=catalog, display_name=f"{name} package")
    group = GroupFactory(display_name=f"Group of {name[0]}")
    resource = Resource.objects.create(catalog=catalog, origin_system="AadGroup",
                                       origin_id=str(group.pk), connector="local",
                                       display_name=f"{name} resource")
    role = ResourceRole.objects.create(resource=resource, origin_id=f"Member_{group.pk}",
                                       display_name="Member")
    ResourceRoleScope.objects.create(access_package=package, role=role)
    # A SCIM app whose group the catalog offers (global, but named for its one catalog).
    system = TargetSystem.objects.create(display_name=f"{name} SCIM app", kind="scim",
                                         base_url="https://scim.test", secret_env="SCIM_TOKEN")
    app_group = Resource.objects.create(catalog=catalog, origin_system="ScimGroup",
                                        origin_id="g-1", connector="scim", system=system,
                                        display_name=f"{name} app group")
    ResourceRole.objects.create(resource=app_group, origin_id="member", display_name="Member")
    policy = PolicyFactory(access_package=package, display_name=f"{name} policy",
                           allowed_target_scope="specificConnectedOrganizationUsers")
    policy.specific_connected_organizations.add(organization)
    add_stage(policy, approver)
    question = add_question(policy, f"{name} question?")
    owner = role_holder(catalog, CatalogRole.OWNER,
                        email=f"owner.{name[0].lower()}@access.example")
    # A custom extension called when requests are created: each request below has a call.
    extension = extension_save(actor=owner, catalog_id=catalog.pk,
                               display_name=f"{name} extension",
                               endpoint_url="https://hooks.example/access",
                               secret_value="a-secret-of-sixteen-or-more")
    policy_extension_stages_set(actor=owner, policy_id=policy.pk,
                                stages=[("assignmentRequestCreated", extension.pk)])

    def submit(requester):
        return request_submit(requestor=requester, access_package_id=package.pk,
                              justification=f"{name} justification",
                              answers={question.pk: f"{name} answer"})

    def guest(label):
        return GuestFactory(email=f"{label}.{name[0].lower()}@contoso.example",
                            connected_organization=organization)

    delivered = submit(guest("delivered"))
    # A bulk assignment job of the catalog, with one rejected line.
    bulk_assignment_start(actor=owner, access_package_id=package.pk, policy_id=policy.pk,
                          upload=csv_upload("email\nunknown@x.example\n", f"{name}.csv"))
    approve_all(delivered, approver)
    deliveries_process()
    delivered.refresh_from_db()
    pending = submit(guest("pending"))
    return Side(catalog, package, policy, pending, delivered.assignment,
                _review(name, policy, delivered.assignment, approver))


def _review(name: str, policy, assignment, reviewer) -> AccessReview:
    """A completed review of the policy whose results wait to be applied, with a decision."""
    start = clock.now() - timedelta(days=20)
    review = AccessReview.objects.create(
        policy=policy, access_package=policy.access_package, state=ReviewState.COMPLETED,
        settings=ReviewSettings(is_enabled=True, start_at=start, is_self_review=True,
                                auto_apply=False).to_graph(),
        start_at=start, end_at=start + timedelta(days=14), created_at=start,
        completed_at=start + timedelta(days=14))
    ReviewReviewer.objects.create(review=review, user=reviewer)
    ReviewDecision.objects.create(review=review, assignment=assignment,
                                  principal=assignment.target, decision=ReviewDecisionValue.DENY,
                                  reviewed_by=reviewer, reviewed_at=start + timedelta(days=1),
                                  justification=f"{name} review justification",
                                  recommendation_reason=f"{name} recommendation reason")
    return review


@pytest.fixture
def sides(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    organization = OrganizationFactory(display_name="Contoso", domain="contoso.example")
    approver = UserFactory(email="approver@access.example")
    return _side("Alpha", organization, approver), _side(MARKER, organization, approver)


@pytest.fixture
def people(sides):
    alpha, _ = sides
    found = {"global admin": UserFactory(email="global@access.example", is_superuser=True),
             "nobody": UserFactory(email="nobody@access.example")}
    for role, value in GLOBAL_ROLES.items():
        found[role] = UserFactory(email=f"{value.lower()}@access.example")
        GlobalRoleAssignment.objects.create(user=found[role], role=value)
    for role, value in CATALOG_ROLES.items():
        found[role] = role_holder(alpha.catalog, value, email=f"{value.lower()}@access.example")
    return found


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern


def _model_of(url_name: str):
    for model in admin_site._registry:
        if url_name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_"):
            return model
    return None


def admin_urls(objects: dict[type, list]) -> list[str]:
    """Every GET-able admin URL: the site's own, each model admin's, filled in with `objects`
    (the ids of one catalog's rows) wherever a URL takes an id."""
    urls, unknown = [], []
    for pattern in _walk(admin_site.get_urls()):
        parameters = list(pattern.pattern.regex.groupindex)
        name = f"admin:{pattern.name}"
        if not parameters:
            urls.append(reverse(name))
            continue
        if pattern.name in {"view_on_site", "app_list"}:
            continue  # the site's own redirects and index pages, covered without arguments
        if parameters == ["object_id"]:
            model = _model_of(pattern.name)
        elif len(parameters) == 1 and parameters[0] in PARAMETER_MODELS:
            model = PARAMETER_MODELS[parameters[0]]
        else:
            unknown.append(f"{pattern.name}: {parameters}")
            continue
        for obj in objects.get(model, []):
            urls.append(reverse(name, kwargs={parameters[0]: obj.pk}))
    assert not unknown, f"Say in PARAMETER_MODELS what these URLs take: {unknown}"
    for model, model_admin in admin_site._registry.items():
        for field in model_admin.autocomplete_fields:
            urls.append(reverse("admin:autocomplete") + (
                f"?app_label={model._meta.app_label}&model_name={model._meta.model_name}"
                f"&field_name={field}&term={MARKER[1:]}"))
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}"
                             "_changelist")
        # The pop-up that raw-id and related-object widgets open, and a search that finds
        # Zulu's objects without the page echoing the marker itself.
        urls += [f"{changelist}?_popup=1&_to_field=id", f"{changelist}?q={MARKER[1:]}"]
    return urls


def _zulu_state() -> dict:
    state = snapshot()
    for model in (Catalog, AccessPackage, AssignmentPolicy, Resource, ResourceRole,
                  ResourceRoleScope, CatalogRoleAssignment, BulkAssignmentJob, TargetSystem,
                  AccessReview, ReviewDecision):
        state[model.__name__] = sorted(
            tuple(sorted((k, str(v)) for k, v in row.items()))
            for row in model.objects.values())
    # Custom extensions, and the stages of policies that call them.
    state["extensions"] = sorted(CustomExtension.objects.values_list(
        "id", "display_name", "endpoint_url", "behavior", "secret_encrypted"))
    state["extension_stages"] = sorted(PolicyExtensionStage.objects.values_list(
        "policy_id", "stage", "extension_id"))
    return state


@pytest.mark.parametrize("role", [role for role in ROLES if role != "global admin"])
def test_nothing_of_another_catalog_shows_on_any_admin_page(as_user, sides, people, role):
    _, zulu = sides
    client = as_user(people[role])
    leaks = []
    for url in admin_urls(zulu.objects()):
        response = client.get(url)
        if response.status_code == 200 and MARKER in response.content.decode():
            leaks.append(url)
        assert response.status_code in {200, 302, 403, 404, 405}, (url, response.status_code)
    assert not leaks, f"{role} sees Zulu's objects at {leaks}"


@pytest.mark.parametrize("role", [role for role in ROLES if role != "global admin"])
def test_nothing_of_another_catalog_can_be_changed(as_user, sides, people, role):
    _, zulu = sides
    client = as_user(people[role])
    before = _zulu_state()
    # Every admin URL that names a Zulu object, posted to as if confirming it.
    for url in admin_urls(zulu.objects()):
        client.post(url, {"post": "yes", "justification": "x", "display_name": "Changed"})
    for model, objects in zulu.objects().items():
        model_admin = admin_site._registry.get(model)
        if model_admin is None:
            continue
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for obj in objects:
            client.post(reverse(f"{info}_change", args=[obj.pk]), {"display_name": "Changed"})
            client.post(reverse(f"{info}_delete", args=[obj.pk]), {"post": "yes"})
        request = client.get(reverse(f"{info}_changelist")).wsgi_request
        for action in model_admin.get_actions(request):
            client.post(reverse(f"{info}_changelist"), {
                "action": action, "_selected_action": [obj.pk for obj in objects],
                "index": 0, "post": "yes"})
    assert _zulu_state() == before


def test_the_global_administrator_sees_everything(as_user, sides, people):
    _, zulu = sides
    client = as_user(people["global admin"])
    for model, objects in zulu.objects().items():
        if model not in admin_site._registry:
            continue
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for obj in objects:
            assert client.get(reverse(f"{info}_change", args=[obj.pk])).status_code == 200


def test_people_without_a_role_have_no_admin_at_all(client, as_user, people):
    for who in (client, as_user(people["nobody"])):
        response = who.get(reverse("admin:index"))
        assert response.status_code == 302
        assert "/accounts/login/" in response.headers["Location"] or \
            "/admin/login/" in response.headers["Location"]


# On Alpha, each role as the reference gives it (behaviour 11).

# What each role may do with each kind of object in its own catalog: "change" (edit, add,
# delete), "view" (read only), or "" (not even see it). Access reviews are only read.
ALPHA_GRID = {
    #                     catalog   resource  package   policy    review
    "owner":              ("change", "change", "change", "change", "view"),
    "package manager":    ("view",   "view",   "change", "change", "view"),
    "assignment manager": ("view",   "view",   "view",   "view",   "view"),
    "reader":             ("view",   "view",   "view",   "view",   "view"),
    "catalog creator":    ("",       "",       "",       "",       ""),
    "connected organisation admin": ("", "", "", "", ""),
}
GRID_MODELS = (Catalog, Resource, AccessPackage, AssignmentPolicy, AccessReview)


def _can_save(page: str) -> bool:
    return bool(re.search(r'name="_save"', page))


@pytest.mark.parametrize("role", list(ALPHA_GRID))
def test_each_role_does_what_the_reference_gives_it_in_its_own_catalog(as_user, sides, people,
                                                                       role):
    alpha, _ = sides
    client = as_user(people[role])
    objects = alpha.objects()
    for model, expected in zip(GRID_MODELS, ALPHA_GRID[role], strict=True):
        if model not in admin_site._registry:
            pytest.skip(f"{model.__name__} has no admin yet")
        obj = objects[model][0]
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                      args=[obj.pk])
        response = client.get(url)
        got = ("" if response.status_code != 200
               else "change" if _can_save(response.content.decode()) else "view")
        assert got == expected, f"{role} on {model.__name__}: {got or 'nothing'}"


def test_the_audit_log_cannot_be_changed_from_the_admin(as_user, sides, people):
    client = as_user(people["global admin"])
    event = AuditEvent.objects.first()
    if AuditEvent not in admin_site._registry:
        pytest.skip("no audit log admin yet")
    before = list(AuditEvent.objects.values())
    info = "admin:governance_auditevent"
    client.post(reverse(f"{info}_change", args=[event.pk]), {"action": "changed"})
    client.post(reverse(f"{info}_delete", args=[event.pk]), {"post": "yes"})
    client.post(reverse(f"{info}_changelist"), {"action": "delete_selected", "post": "yes",
                                                 "_selected_action": [event.pk]})
    assert list(AuditEvent.objects.values()) == before
