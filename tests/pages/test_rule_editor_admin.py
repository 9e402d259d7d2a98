"""The rule editor of an automatic policy in the admin, through the test client: adding an
automatic policy, the preview the editor asks for as the owner types (a rule that reads, one
that does not with its column, who would gain and lose), who may ask for it (404 for anyone
else), the confirmation a rule removing many people asks for, the runs on the policy's page,
and the preview's fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.choices import ASSIGNMENT_ACTIVE, BulkJobState, ExpirationType
from governance.models import Assignment, AssignmentPolicy, RuleEvaluation
from governance.selectors.rule_preview import rule_preview
from governance.services.automatic import rule_evaluation_run
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.config_helpers import config_snapshot
from tests.factories import GroupFactory, PackageFactory, UserFactory, group_role
from tests.pages.builder_forms import NO_QUESTIONS, POLICIES, field_errors, policy_form

SALES = 'user.department -eq "Sales"'
PREVIEW = f"{POLICIES}_rule_preview"
PREVIEW_OF = f"{POLICIES}_rule_preview_of"
RUNS = f"{POLICIES}_rule_runs"


@pytest.fixture
def sales(world):
    """A Sales workspace package; Ann, Bob and Cy of Sales, Dee of Finance."""
    package = PackageFactory(catalog=world.catalog, display_name="Sales workspace")
    group_role(package, GroupFactory(display_name="Sales team"))
    people = {name: UserFactory(email=f"{name.lower()}@access.example",
                                display_name=f"{name} {surname}", department=department)
              for name, surname, department in (("Ann", "Archer", "Sales"),
                                                ("Bob", "Baker", "sales"),
                                                ("Cy", "Cole", "Sales"),
                                                ("Dee", "Dunn", "Finance"))}
    return package, people


def automatic_form(package, **overrides) -> dict:
    """The add page's form as a browser posts it for an automatic policy."""
    form = {
        "access_package": package.pk, "display_name": "Everyone in Sales",
        "description": "The Sales workspace for the Sales department.",
        "is_automatic": "True", "membership_rule": SALES,
        "membership_rule_description": "Everyone in Sales",
        "request_access_for_allowed_targets": "on", "remove_access_when_target_leaves": "on",
        "grace_period_days": "7", "expiration_type": ExpirationType.NO_EXPIRATION,
        "expiration_days": "", "expiration_hours": "", "send_assignment_emails": "on",
        # What the hidden parts of the add page still post.
        "allowed_target_scope": "notSpecified", "enable_self_add": "on",
        "is_approval_required_for_add": "on", "stage1_deadline_days": "14",
        "stage2_deadline_days": "14", "stage3_deadline_days": "14",
        **NO_QUESTIONS, "_save": "Save",
    }
    return form | overrides


def change_form(policy, **overrides) -> dict:
    """An automatic policy's own page, posted as it shows."""
    form = automatic_form(policy.access_package, **overrides)
    for name in ("access_package", "is_automatic", "allowed_target_scope", "enable_self_add",
                 "is_approval_required_for_add"):
        form.pop(name, None)
    form.update(overrides)
    return form


def saved_policy(world, package, rule=SALES, **fields) -> AssignmentPolicy:
    """An automatic policy saved and run: everyone its rule matches holds the package."""
    policy = policy_save(actor=world.owner, access_package_id=package.pk, spec=PolicySpec(
        display_name="Everyone in Sales", is_automatic=True, membership_rule=rule,
        expiration_type=ExpirationType.NO_EXPIRATION, expiration_duration=None, **fields))
    rule_evaluation_run(evaluation_id=policy.rule_evaluations.get().pk)
    return policy


def holders(package) -> set[str]:
    return set(Assignment.objects.filter(access_package=package, state__in=ASSIGNMENT_ACTIVE)
               .values_list("target__email", flat=True))


def preview(client, rule, *, package=None, policy=None, **values):
    url = reverse(PREVIEW_OF, args=[policy.pk]) if policy else reverse(PREVIEW)
    data = {"membership_rule": rule, "request_access_for_allowed_targets": "on",
            "remove_access_when_target_leaves": "on", "grace_period_days": "7", **values}
    if package is not None:
        data["access_package"] = package.pk
    return client.post(url, data, headers={"hx-request": "true"})


# Adding an automatic policy


def test_an_owner_adds_an_automatic_policy_and_its_run_is_queued(world, sales, owner_client):
    package, people = sales
    add = reverse(f"{POLICIES}_add")
    page = owner_client.get(f"{add}?access_package={package.pk}&is_automatic=True")
    form = page.context["adminform"].form
    assert form.initial["expiration_type"] == ExpirationType.NO_EXPIRATION
    html = page.content.decode()
    for words in ("Assign automatically by a rule", "Membership rule", "Assign people who match",
                  "Remove access when they no longer match", "Grace period (days)",
                  'id="rule-preview"', "vendor/htmx-2.0.11.min.js", "portal/policy-form.js"):
        assert words in html, words
    assert form["grace_period_days"].value() == 7

    response = owner_client.post(add, automatic_form(package))
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = AssignmentPolicy.objects.get(access_package=package)
    # To the policy's own page, which shows the run the save queued.
    assert response.url == reverse(f"{POLICIES}_change", args=[policy.pk])
    assert policy.is_automatic and policy.membership_rule == SALES
    assert policy.membership_rule_description == "Everyone in Sales"
    assert policy.grace_period_before_access_removal.days == 7
    assert policy.expiration_type == ExpirationType.NO_EXPIRATION
    # None of the requestor's parts, whatever the hidden fields posted.
    assert not (policy.enable_self_add or policy.is_approval_required_for_add)
    assert policy.stages.count() == 0 and policy.questions.count() == 0
    run = policy.rule_evaluations.get()
    assert (run.state, run.membership_rule, run.actor) == (BulkJobState.QUEUED, SALES,
                                                           world.owner)

    page = owner_client.get(response.url).content.decode()
    assert "Runs of the rule" in page and "Queued" in page
    assert "Who can request" not in page and "Approval stage 1" not in page
    assert "Questions for the requestor" not in page
    rule_evaluation_run(evaluation_id=run.pk)
    assert holders(package) == {"ann@access.example", "bob@access.example",
                                "cy@access.example"}
    runs = owner_client.get(reverse(RUNS, args=[policy.pk])).content.decode()
    assert "Done" in runs and "<td>3</td>" in runs and "hx-trigger" not in runs


def test_a_rule_that_does_not_read_is_refused_beside_it_and_nothing_is_saved(
        world, sales, owner_client):
    package, _ = sales
    before = config_snapshot()
    response = owner_client.post(reverse(f"{POLICIES}_add"), automatic_form(
        package, membership_rule='user.department -eq "Sales" -and'))
    assert response.status_code == 200
    assert field_errors(response, "membership_rule") == [
        "Column 33: the rule ends too soon; expected ( or -not or a property such as "
        "user.department."]
    assert config_snapshot() == before
    assert not RuleEvaluation.objects.exists()


def test_a_second_automatic_policy_of_the_package_is_refused(world, sales, owner_client):
    package, _ = sales
    saved_policy(world, package)
    response = owner_client.post(reverse(f"{POLICIES}_add"), automatic_form(
        package, display_name="Sales again"))
    assert response.status_code == 200
    assert "already has an automatic policy" in field_errors(response, "membership_rule")[0]


def test_a_requested_policy_keeps_its_page_and_cannot_become_automatic(world, owner_client):
    page = owner_client.get(reverse(f"{POLICIES}_change", args=[world.policy.pk]))
    html = page.content.decode()
    assert "Approval stage 1" in html and "Membership rule" not in html
    assert "rule-preview" not in html
    # Posting the kind anyway changes nothing: the field is fixed once saved.
    data = policy_form(world, world.package, is_automatic="True", membership_rule=SALES,
                       _save="Save")
    data.pop("access_package")
    owner_client.post(reverse(f"{POLICIES}_change", args=[world.policy.pk]), data)
    world.policy.refresh_from_db()
    assert not world.policy.is_automatic and world.policy.membership_rule == ""


# The preview


def test_the_preview_of_a_rule_that_reads_counts_and_lists_who_matches(world, sales,
                                                                      owner_client):
    package, people = sales
    response = preview(owner_client, SALES, package=package)
    assert response.status_code == 200
    found = response.context["preview"]
    assert (found.reads, found.matched, found.gaining, found.is_saved) == (True, 3, 3, False)
    assert [(p.name, p.email, p.department) for p in found.people] == [
        ("Ann Archer", "ann@access.example", "Sales"), ("Bob Baker", "bob@access.example",
                                                        "sales"),
        ("Cy Cole", "cy@access.example", "Sales")]
    html = response.content.decode()
    assert "The rule reads." in html and "3 people match" in html
    assert "<td>Bob Baker</td><td>bob@access.example</td><td>sales</td>" in html
    assert "Saving the policy gives the package to 3 people." in html

    # A different rule, another answer; the first 20 only, with how many more.
    for number in range(25):
        UserFactory(email=f"s{number:02}@access.example", department="Sales Ops")
    response = preview(owner_client, 'user.department -startsWith "sales"', package=package)
    found = response.context["preview"]
    assert (found.matched, len(found.people), found.more_people) == (28, 20, 8)
    assert "And 8 more." in response.content.decode()


@pytest.mark.parametrize(("rule", "column", "words"), [
    ('user.department -eq "Sales" -and', 33, "the rule ends too soon"),
    ('user.departement -eq "Sales"', 1, "user.departement is not an attribute the portal keeps"),
    ('user.department -equals "Sales"', 17, "is not part of the rule language"),
    ('user.accountEnabled -contains "x"', 21, "cannot be compared with -contains"),
])
def test_the_preview_of_a_rule_that_does_not_read_says_why_and_where(
        world, sales, owner_client, rule, column, words):
    package, _ = sales
    response = preview(owner_client, rule, package=package)
    assert response.status_code == 200
    found = response.context["preview"]
    assert (found.reads, found.column, found.matched) == (False, column, 0)
    assert found.error.startswith(f"Column {column}: ") and words in found.error
    html = response.content.decode()
    assert "The rule does not read." in html
    # A caret under the column, under the rule.
    assert f"{rule}\n{' ' * (column - 1)}^</pre>" in html.replace("&quot;", '"')


def test_the_preview_of_an_empty_rule_asks_for_one(world, sales, owner_client):
    package, _ = sales
    found = preview(owner_client, "  ", package=package).context["preview"]
    assert (found.reads, found.column) == (False, None)
    assert found.error == 'Write a rule, such as user.department -eq "Sales".'


def test_the_preview_of_a_saved_policy_says_who_would_gain_and_lose(world, sales,
                                                                   owner_client):
    package, people = sales
    policy = saved_policy(world, package)
    # Cy moves to Finance; Dee would come in with Finance, Ann, Bob and Cy would leave.
    response = preview(owner_client, 'user.department -eq "Finance"', policy=policy)
    found = response.context["preview"]
    assert (found.matched, found.gaining, found.gaining_names) == (1, 1, ["Dee Dunn"])
    assert (found.losing, found.losing_names) == (3, ["Ann Archer", "Bob Baker", "Cy Cole"])
    html = response.content.decode()
    assert "If you save it now" in html
    assert "1 person gets the package: Dee Dunn." in html
    assert ("3 people lose the package at the end of the 7-day grace period, unless they "
            "match again: Ann Archer, Bob Baker, Cy Cole.") in html

    # With the settings as the form has them now: removal off, assigning off.
    found = preview(owner_client, 'user.department -eq "Finance"', policy=policy,
                    remove_access_when_target_leaves="").context["preview"]
    assert (found.gaining, found.losing) == (1, 0)
    html = preview(owner_client, 'user.department -eq "Finance"', policy=policy,
                   request_access_for_allowed_targets="", grace_period_days="0").content.decode()
    assert "nobody new gets the package" in html
    assert "3 people lose the package at once" in html

    # The saved rule itself changes nothing; a GET previews it as saved.
    found = owner_client.get(reverse(PREVIEW_OF, args=[policy.pk])).context["preview"]
    assert (found.rule, found.matched, found.gaining, found.losing) == (SALES, 3, 0, 0)


def test_the_add_page_preview_needs_the_package(world, sales, owner_client):
    response = owner_client.post(reverse(PREVIEW), {"membership_rule": SALES,
                                                    "access_package": ""})
    assert response.status_code == 200
    assert "Choose the access package" in response.content.decode()


@pytest.mark.parametrize(("who", "status"), [
    ("owner", 200), ("package_manager", 200), ("admin", 200), ("reader", 404),
    ("assignment_manager", 404), ("other_owner", 404), ("outsider", 302)])
def test_only_who_changes_the_catalogs_policies_may_preview(world, sales, people, as_user, who,
                                                            status):
    package, _ = sales
    policy = saved_policy(world, package)
    person = world.owner if who == "owner" else world.outsider if who == "outsider" \
        else getattr(people, who)
    client = as_user(person)
    answers = [preview(client, SALES, package=package), preview(client, SALES, policy=policy),
               client.get(reverse(PREVIEW_OF, args=[policy.pk]))]
    assert [answer.status_code for answer in answers] == [status] * 3
    if status == 200:
        assert "Ann Archer" in answers[0].content.decode()
    else:
        assert all("Ann Archer" not in answer.content.decode() for answer in answers)


def test_the_preview_answers_404_for_what_is_not_an_automatic_policy(world, sales,
                                                                     owner_client, people):
    package, _ = sales
    assert preview(owner_client, SALES, policy=world.policy).status_code == 404
    other = PackageFactory(catalog=people.other_catalog, display_name="Ledger")
    assert preview(owner_client, SALES, package=other).status_code == 404
    assert owner_client.post(reverse(PREVIEW), {"membership_rule": SALES,
                                                "access_package": "x"}).status_code == 404



def test_the_add_page_preview_without_a_package_is_404_for_who_changes_no_policies(
        world, people, as_user):
    client = as_user(people.reader)
    assert client.post(reverse(PREVIEW), {"membership_rule": SALES}).status_code == 404


def test_the_preview_takes_a_fixed_number_of_queries(world, sales, django_assert_num_queries):
    package, people = sales
    policy = AssignmentPolicy.objects.select_related("access_package").get(
        pk=saved_policy(world, package).pk)
    finance = 'user.department -eq "Finance"'
    with django_assert_num_queries(2):  # a new policy: the counts, the first people
        rule_preview(finance, package=package)
    with django_assert_num_queries(5):  # and for a saved one: gaining, losing, their names
        found = rule_preview(finance, package=package, policy=policy)
    assert (found.matched, found.gaining, found.losing) == (1, 1, 3)
    # Many more people, and people who would gain and lose: the same queries.
    for number in range(40):
        UserFactory(email=f"f{number:02}@access.example", department="Finance")
        UserFactory(email=f"s{number:02}@access.example", department="Sales")
    rule_evaluation_run(evaluation_id=RuleEvaluation.objects.create(
        policy=policy, membership_rule=SALES, created_at=policy.created_at).pk)
    with django_assert_num_queries(5):
        found = rule_preview(finance, package=package, policy=policy)
    assert (found.matched, found.gaining, found.losing) == (41, 41, 43)
    assert (len(found.people), len(found.gaining_names), len(found.losing_names)) == (20, 10, 10)
    with django_assert_num_queries(0):  # a rule that does not read asks nothing
        rule_preview("user.department -eq", package=package, policy=policy)


def test_the_preview_page_does_not_grow_with_the_people(world, sales, owner_client):
    package, _ = sales
    policy = saved_policy(world, package)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert preview(owner_client, 'user.department -ne "Sales"',
                           policy=policy).status_code == 200
        return len(captured)

    few = queries()
    for number in range(30):
        UserFactory(email=f"p{number:02}@access.example", department="Legal")
    assert queries() == few


# Confirming many removals


def test_saving_a_rule_that_removes_more_than_n_people_asks_to_confirm(world, sales,
                                                                      owner_client, settings):
    settings.AUTOMATIC_REMOVAL_CONFIRM_ABOVE = 2
    package, _ = sales
    policy = saved_policy(world, package)
    url = reverse(f"{POLICIES}_change", args=[policy.pk])
    page = owner_client.get(url).content.decode()
    assert "Remove their access" in page and "more than 2 people" in page
    before = config_snapshot()
    runs = RuleEvaluation.objects.count()

    response = owner_client.post(url, change_form(policy,
                                                  membership_rule='user.department -eq "Legal"'))
    assert response.status_code == 200
    assert field_errors(response, "confirm_removals") == [
        "This rule removes access from 3 people. Tick “Remove their access” to save it."]
    assert "This rule removes access from 3 people." in response.content.decode()
    policy.refresh_from_db()
    assert policy.membership_rule == SALES
    assert config_snapshot() == before and RuleEvaluation.objects.count() == runs

    # At or below the number, or with removal off, nothing is asked.
    response = owner_client.post(url, change_form(
        policy, membership_rule='user.department -eq "Legal"',
        remove_access_when_target_leaves=""))
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert not policy.remove_access_when_target_leaves
    response = owner_client.post(url, change_form(
        policy, membership_rule='user.department -eq "Sales" -and user.mail -ne '
                                '"ann@access.example"'))
    assert response.status_code == 302, response.context["adminform"].form.errors

    # Ticked, it saves, and the run is queued.
    response = owner_client.post(url, change_form(
        policy, membership_rule='user.department -eq "Legal"', confirm_removals="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response.url == url
    policy.refresh_from_db()
    assert policy.membership_rule == 'user.department -eq "Legal"'
    assert policy.rule_evaluations.order_by("-pk").first().state == BulkJobState.QUEUED


# The runs


def test_the_policy_page_shows_the_latest_runs(world, sales, people, as_user):
    package, _ = sales
    policy = saved_policy(world, package)
    RuleEvaluation.objects.create(policy=policy, membership_rule=SALES,
                                  created_at=policy.created_at, state=BulkJobState.FAILED,
                                  error="The run stopped and changed nothing: boom")
    RuleEvaluation.objects.create(policy=policy, membership_rule=SALES,
                                  created_at=policy.created_at)
    reader = as_user(people.reader)
    page = reader.get(reverse(f"{POLICIES}_change", args=[policy.pk])).content.decode()
    assert "Runs of the rule" in page and 'name="_save"' not in page
    for words in ("Queued", "Failed", "Done", "Removals scheduled", "Removals canceled",
                  "The run stopped and changed nothing: boom", 'hx-trigger="every 2s"',
                  "7 days"):
        assert words in page, words
    fragment = reader.get(reverse(RUNS, args=[policy.pk]))
    assert fragment.status_code == 200 and "Failed" in fragment.content.decode()
    outsider = as_user(people.other_owner)
    assert outsider.get(reverse(RUNS, args=[policy.pk])).status_code == 404
