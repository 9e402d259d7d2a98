"""The emails' locked-down engine and their plain contexts (governance.notifications.sandbox),
and the secret holders that no Django template can call."""

import datetime

import pytest
from django.db.models import QuerySet
from django.template import Context, TemplateDoesNotExist, engines
from django.utils.safestring import mark_safe

from governance.models import CustomExtension, EmailTemplate, TargetSystem, User
from governance.models.system import SecretHolder
from governance.notifications import TOPIC_VARIABLES, TOPICS
from governance.notifications.samples import record_fields, sample_context, sample_variables
from governance.notifications.sandbox import ForbiddenTag, Record, plain, sandbox_engine
from governance.security import secrets
from governance.services.email_templates import email_template_save
from governance.services.errors import InvalidInput

SECRET = "a-secret-no-template-may-print"


def sandboxed(source: str, context: dict | None = None, *, html: bool = False) -> str:
    return sandbox_engine().from_string(source).render(Context(context or {}, autoescape=html))


# Secret holders in any Django template


@pytest.mark.parametrize("model", [TargetSystem, CustomExtension])
def test_a_django_template_does_not_call_a_secret_holders_secret(model):
    holder = model(display_name="Holder", secret_encrypted=secrets.encrypt(SECRET))
    assert holder.secret() == SECRET  # the secret is there to be printed
    assert SecretHolder.secret.do_not_call_in_templates is True
    template = engines["django"].from_string(
        "[{{ holder.secret }}][{% with s=holder.secret %}{{ s }}{% endwith %}]"
        "[{{ holder.secret|default:'' }}]")
    rendered = template.render({"holder": holder})
    assert SECRET not in rendered
    assert rendered.count("bound method SecretHolder.secret") == 3  # shown, never called


# Plain values


def test_plain_refuses_rows_querysets_and_callables():
    for value in (User(email="x@access.example"), User.objects.none(), len, lambda: SECRET,
                  object()):
        with pytest.raises(TypeError, match="plain values only"):
            plain(value)
    with pytest.raises(TypeError):
        plain({"nested": [User()]})
    assert isinstance(User.objects.none(), QuerySet)


def test_plain_makes_dicts_and_lists_read_only_and_strings_unsafe():
    value = plain({"counts": {"total": 3}, "names": ["a", "b"], "at": datetime.date(2031, 3, 4),
                   "html": mark_safe("<b>bold</b>")})
    assert isinstance(value, Record) and isinstance(value["counts"], Record)
    assert value["names"] == ("a", "b")
    assert type(value["html"]) is str
    with pytest.raises(TypeError):
        value["counts"]["total"] = 4  # type: ignore[index]
    # A template cannot change what another part of the email sees, nor mark it safe.
    assert sandboxed("{{ data.counts.clear }}{{ data.counts.total }}", {"data": value}) == "3"
    assert sandboxed("{{ data.html }}", {"data": value}, html=True) == "&lt;b&gt;bold&lt;/b&gt;"


def test_a_record_prints_its_text_and_looks_its_facts_up():
    person = Record("Ada Lovelace", email="ada@contoso.example", connected_organization=None)
    source = ("{{ person }} <{{ person.email }}> {{ person.connected_organization|default:'-' }}"
              "[{{ person.password }}][{{ person.get }}]")
    assert sandboxed(source, {"person": person}) == "Ada Lovelace <ada@contoso.example> -[][]"


# The engine


@pytest.mark.parametrize(("source", "tag"), [
    ("{% debug %}", "{% debug %}"),
    ("Hello {% if recipient %}{% debug %}{% endif %}", "{% debug %}"),
    ("{% load static %}", "{% load static %}"),
    ("{% load i18n humanize %}", "{% load humanize %}"),
    ("{% load cache from cache %}", "{% load cache %}"),
    ("{% querystring %}", "{% querystring %}"),
])
def test_the_engine_refuses_the_tags_emails_cannot_use_naming_them(source, tag):
    with pytest.raises(ForbiddenTag) as refused:
        sandbox_engine().from_string(source)
    assert str(refused.value).startswith(f"{tag} cannot be used in emails")


def test_the_engine_loads_i18n_l10n_and_tz_and_has_the_standard_tags_and_filters():
    source = ("{% load i18n l10n tz %}{% get_current_language as language %}{{ language }} "
              "{% for n in numbers %}{{ n|add:1 }}{% endfor %} {{ name|upper|default:'-' }}")
    assert sandboxed(source, {"numbers": (1, 2), "name": ""}) == "en 23 -"


@pytest.mark.parametrize("name", ["admin/base.html", "emails/../admin/base.html",
                                  "emails/../../portal/settings.py", "/etc/passwd",
                                  "base.html"])
def test_the_engine_includes_no_template_but_the_emails_own(name):
    engines["django"].engine.find_template("admin/base.html")  # it exists for pages
    with pytest.raises(TemplateDoesNotExist):
        sandboxed(f'{{% include "{name}" %}}')
    with pytest.raises(TemplateDoesNotExist):
        sandboxed(f'{{% extends "{name}" %}}')


def test_the_engine_extends_the_emails_layout_and_has_no_context_processors():
    rendered = sandboxed('{% extends "emails/base.html" %}{% block body %}Hi{% endblock %}'
                         "{{ user }}{{ perms }}{{ csrf_token }}{{ settings.SECRET_KEY }}",
                         {"site_url": "https://access.example"}, html=True)
    assert "Hi" in rendered and "My Access" in rendered
    engine = sandbox_engine()
    assert (engine.context_processors, engine.string_if_invalid, engine.autoescape,
            engine.app_dirs, engine.dirs) == ([], "", True, False, [])
    assert sandboxed("[{{ missing }}][{{ missing.deeper }}]") == "[][]"


# Every topic's context


def test_every_topic_documents_its_names_and_the_sample_gives_each_a_plain_value():
    assert TOPIC_VARIABLES.keys() == TOPICS.keys()
    for topic in TOPICS:
        context = sample_context(topic)
        assert sorted(context) == sample_variables(topic) == sorted(TOPIC_VARIABLES[topic])
        for value in context.values():
            plain(value)  # TypeError for anything but plain values
    fields = dict(record_fields())
    assert {"access_package", "requestor", "target", "justification"} <= set(fields["request"])
    assert {"email", "connected_organization"} <= set(fields["request.target"])
    assert {"approver", "result", "decided_at"} <= set(fields["stage.decision"])
    assert "password" not in fields["recipient"]


@pytest.mark.parametrize("part", ["subject", "text_body", "html_body"])
def test_saving_a_version_with_debug_is_refused_naming_the_tag_and_the_part(db, part):
    version = {"topic": "approval_needed", "language": "", "subject": "Decide",
               "text_body": "{{ approval_url }}", "html_body": ""}
    with pytest.raises(InvalidInput) as refused:
        email_template_save(actor=None, **(version | {part: "Look: {% debug %}"}))
    assert (refused.value.field, refused.value.code) == (part, "forbiddenTag")
    assert "{% debug %} cannot be used in emails" in refused.value.message
    assert refused.value.message.endswith(".")
    assert not EmailTemplate.objects.exists()
