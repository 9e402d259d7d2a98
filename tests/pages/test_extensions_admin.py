"""Custom extensions in the admin: catalog owners add them with a write-only secret, others of
the catalog only read them, a policy's page chooses the extension of each stage through the
service, and an extension's page lists its calls."""

from datetime import timedelta

import pytest
from django.urls import reverse

from governance.choices import CalloutStatus, CustomExtensionBehavior, CustomExtensionStage
from governance.models import AuditEvent, CustomExtension, ExtensionCallout, PolicyExtensionStage
from governance.services.extension_config import extension_save, policy_extension_stages_set
from tests.config_helpers import make_delegates
from tests.factories import submit_request

EXTENSIONS = "admin:governance_customextension"
POLICIES = "admin:governance_assignmentpolicy"
SECRET = "typed-secret-never-shown-again"
Stage = CustomExtensionStage
# Their extensions call hosts that never resolve: a global administrator allow-lists them.
pytestmark = pytest.mark.usefixtures("fictional_hooks_allowed")


@pytest.fixture
def people(world):
    return make_delegates(world)


def extension_form(world, **overrides) -> dict:
    return {"catalog": world.catalog.pk, "display_name": "Compliance check",
            "description": "Checks the badge of external people.",
            "endpoint_url": "https://hooks.contoso.example/access",
            "behavior": CustomExtensionBehavior.LAUNCH_AND_WAIT, "timeout_minutes": "60",
            "secret_env": "", "secret_value": SECRET, "_save": "Save"} | overrides


def saved(world, **fields) -> CustomExtension:
    arguments = {"catalog_id": world.catalog.pk, "display_name": "Compliance check",
                 "endpoint_url": "https://hooks.contoso.example/access",
                 "behavior": CustomExtensionBehavior.LAUNCH_AND_CONTINUE,
                 "secret_value": SECRET}
    return extension_save(actor=world.owner, **(arguments | fields))


def test_an_owner_adds_an_extension_whose_secret_is_never_shown_again(world, as_user):
    client = as_user(world.owner)
    response = client.post(reverse(f"{EXTENSIONS}_add"), extension_form(world))
    assert response.status_code == 302, response.context["adminform"].form.errors
    extension = CustomExtension.objects.get()
    assert extension.secret() == SECRET
    assert extension.callback_timeout.total_seconds() == 3600
    assert AuditEvent.objects.filter(action="extension.created", actor=world.owner).exists()
    page = client.get(reverse(f"{EXTENSIONS}_change", args=[extension.pk])).content.decode()
    assert SECRET not in page and extension.secret_encrypted not in page
    assert "Stored encrypted" in page and "X-Portal-Signature" in page
    assert "Not called yet." in page
    # Saved again with the secret left empty: it is kept.
    form = extension_form(world, secret_value="", display_name="Badge check")
    del form["catalog"]
    response = client.post(reverse(f"{EXTENSIONS}_change", args=[extension.pk]), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    extension.refresh_from_db()
    assert (extension.display_name, extension.secret()) == ("Badge check", SECRET)


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"endpoint_url": "http://hooks.fabrikam.example/access"}, "endpoint_url", "https://"),
    ({"timeout_minutes": ""}, "timeout_minutes", "5 minutes to 14 days"),
    ({"timeout_minutes": "2"}, "timeout_minutes", "5 minutes to 14 days"),
    ({"secret_value": ""}, "secret_value", "secret"),
    ({"secret_env": "PORTAL_SECRET_NOT_SET_ANYWHERE", "secret_value": ""}, "secret_env", "not set"),
])
def test_a_refusal_shows_beside_its_field_and_saves_nothing(world, as_user, overrides, field,
                                                            words):
    response = as_user(world.owner).post(reverse(f"{EXTENSIONS}_add"),
                                         extension_form(world, **overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert words in " ".join(errors.get(field, [])), errors
    assert not CustomExtension.objects.exists()


def test_the_catalog_others_read_it_and_only_its_owner_changes_it(world, people, as_user):
    extension = saved(world)
    change = reverse(f"{EXTENSIONS}_change", args=[extension.pk])
    for person in (people.package_manager, people.assignment_manager, people.reader):
        client = as_user(person)
        page = client.get(change)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.get(reverse(f"{EXTENSIONS}_add")).status_code == 403
        assert client.post(change, extension_form(world)).status_code == 403
    other = as_user(people.other_owner)
    assert other.get(change).status_code == 302  # to the admin index: not theirs
    assert "Compliance check" not in other.get(reverse(f"{EXTENSIONS}_changelist")) \
        .content.decode()
    extension.refresh_from_db()
    assert extension.display_name == "Compliance check"


def test_the_policy_page_chooses_the_extension_of_each_stage(world, people, as_user):
    waits = saved(world, behavior=CustomExtensionBehavior.LAUNCH_AND_WAIT,
                  callback_timeout=timedelta(hours=1))
    notice = saved(world, display_name="Notice")
    saved_elsewhere = extension_save(actor=people.other_owner,
                                     catalog_id=people.other_catalog.pk,
                                     display_name="Ledger hook",
                                     endpoint_url="https://hooks.example/ledger",
                                     secret_value=SECRET)
    client = as_user(people.package_manager)
    url = reverse(f"{POLICIES}_change", args=[world.policy.pk])
    page = client.get(url)
    formset = stages_formset(page)
    offered = list(formset.empty_form.fields["extension"].queryset)
    assert offered == [waits, notice] and saved_elsewhere not in offered

    data = policy_data(page)
    data.update(inline(0, Stage.REQUEST_CREATED, waits) | inline(1, Stage.REQUEST_GRANTED, notice))
    data["extension_stages-TOTAL_FORMS"] = "2"
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert set(world.policy.extension_stages.values_list("stage", "extension_id")) == {
        (Stage.REQUEST_CREATED, waits.pk), (Stage.REQUEST_GRANTED, notice.pk)}
    assert AuditEvent.objects.filter(action="policy.extensionStagesChanged",
                                     actor=people.package_manager).count() == 1

    # A waiting extension where nothing can wait: refused above the inline, nothing saved.
    page = client.get(url)
    assert [form.initial["stage"] for form in stages_formset(page).initial_forms] == [
        Stage.REQUEST_CREATED, Stage.REQUEST_GRANTED]
    data = policy_data(page)
    data.update({"extension_stages-1-extension": str(waits.pk)})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "waits for a callback" in response.content.decode()
    assert PolicyExtensionStage.objects.get(stage=Stage.REQUEST_GRANTED).extension == notice
    # A reader sees them; the add page has no such inline (no catalog to offer yet).
    reader_page = as_user(people.reader).get(url)
    assert "Notice" in reader_page.content.decode()
    assert 'name="extension_stages-0-extension"' not in reader_page.content.decode()
    add_page = client.get(reverse(f"{POLICIES}_add")).content.decode()
    assert "extension_stages" not in add_page


def test_the_extension_page_lists_its_calls(world, as_user):
    extension = saved(world)
    policy_extension_stages_set(actor=world.owner, policy_id=world.policy.pk,
                                stages=[(Stage.REQUEST_CREATED, extension.pk)])
    request = submit_request(world)
    callout = ExtensionCallout.objects.get()
    ExtensionCallout.objects.filter(pk=callout.pk).update(
        status=CalloutStatus.CALLOUT_FAILED, detail="Could not reach the hook")
    page = as_user(world.owner).get(reverse(f"{EXTENSIONS}_change", args=[extension.pk]))
    text = page.content.decode()
    assert "Could not be sent" in text and "Could not reach the hook" in text
    assert "Request is created" in text and str(request) in text


# Helpers: a policy change form posted back as the page shows it.


def stages_formset(page):
    return next(formset.formset for formset in page.context["inline_admin_formsets"]
                if formset.formset.prefix == "extension_stages")


def policy_data(page) -> dict:
    """The policy form and all its inlines, as the page renders them."""
    data = {}
    form = page.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or value is False:
            continue
        if value is True:
            value = "on"
        if hasattr(value, "pk"):
            value = value.pk
        if isinstance(value, (list, tuple)) or hasattr(value, "all"):
            value = [getattr(item, "pk", item) for item in
                     (value.all() if hasattr(value, "all") else value)]
        data[name] = value
    for inline_formset in page.context["inline_admin_formsets"]:
        formset = inline_formset.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management.initial.get(name, "")
        for child in formset.forms:
            for name, field in child.fields.items():
                value = child.initial.get(name, field.initial)
                if value is None or value is False:
                    continue
                data[child.add_prefix(name)] = "on" if value is True else getattr(
                    value, "pk", value)
    data["_save"] = "Save"
    return data


def inline(index: int, stage: str, extension: CustomExtension) -> dict:
    return {f"extension_stages-{index}-stage": stage,
            f"extension_stages-{index}-extension": str(extension.pk)}
