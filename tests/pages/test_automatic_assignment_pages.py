"""An assignment an automatic policy made says so: in My Access (active tab, overview) and in
the admin, with "ends on … unless they match again" once the person left the rule."""

from datetime import timedelta

from django.urls import reverse

from governance.models import Assignment
from governance.services.automatic import person_rules_evaluate, rule_evaluation_run
from governance.services.people import person_update
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.factories import PackageFactory, UserFactory


def _sales_assignment(world):
    package = PackageFactory(catalog=world.catalog, display_name="Sales workspace")
    policy = policy_save(actor=world.owner, access_package_id=package.pk, spec=PolicySpec(
        display_name="Everyone in Sales", is_automatic=True,
        membership_rule='user.department -eq "Sales"',
        membership_rule_description="everyone in the Sales department",
        grace_period_before_access_removal=timedelta(days=5)))
    person = UserFactory(email="sam.sales@access.example", department="Sales")
    rule_evaluation_run(evaluation_id=policy.rule_evaluations.get().pk)
    return person, Assignment.objects.get(target=person, access_package=package)


def test_my_access_says_the_policy_assigned_it_and_when_it_ends_after_a_move(as_user, world):
    person, assignment = _sales_assignment(world)
    client = as_user(person)
    active = client.get(reverse("package_list") + "?tab=active").content.decode()
    assert ("Assigned automatically by the policy “Everyone in Sales”: everyone in the Sales "
            "department.") in active
    assert "Remove access" not in active and "Extend" not in active
    assert "unless you match" not in active

    admin = UserFactory(email="people.admin@access.example", is_superuser=True)
    person_update(actor=admin, user_id=person.pk, changes={"department": "Legal"})
    person_rules_evaluate(user_id=person.pk)
    active = client.get(reverse("package_list") + "?tab=active").content.decode()
    assert "unless you match the policy's rule again" in active
    overview = client.get(reverse("overview")).content.decode()
    assert "assigned automatically; ends on" in overview


def test_the_admin_shows_the_rule_and_the_scheduled_removal(as_user, world):
    person, assignment = _sales_assignment(world)
    admin = UserFactory(email="people.admin@access.example", is_superuser=True, totp=True)
    person_update(actor=admin, user_id=person.pk, changes={"department": "Legal"})
    person_rules_evaluate(user_id=person.pk)
    page = as_user(world.owner).get(
        reverse("admin:governance_assignment_change", args=[assignment.pk])).content.decode()
    assert "Automatically, by the rule of “Everyone in Sales”: user.department -eq" in page
    assert "unless they match the policy&#x27;s rule again" in page


def test_the_package_page_words_its_automatic_policy_and_offers_no_second(as_user, world):
    person, assignment = _sales_assignment(world)
    page = as_user(world.owner).get(reverse("admin:governance_accesspackage_change",
                                            args=[assignment.access_package_id])).content
    page = page.decode()
    assert ("Everyone in Sales</a> — assigned automatically to everyone its rule matches: "
            "user.department -eq &quot;Sales&quot;") in page
    assert "Add a policy" in page and "Add an automatic policy" not in page
    other = as_user(world.owner).get(reverse("admin:governance_accesspackage_change",
                                             args=[world.package.pk])).content.decode()
    assert "Add an automatic policy" in other
