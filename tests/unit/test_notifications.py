"""Rendering the outbox's emails: the recipient's language, administrators' versions, escaping."""

import pytest

from governance import clock
from governance.models import EmailTemplate
from governance.notifications import TOPICS, render_email
from governance.security.approval_links import approval_link_url
from tests.factories import submit_request


def _override(topic: str, language: str, subject: str, text_body: str, html_body: str = ""):
    return EmailTemplate.objects.create(topic=topic, language=language, subject=subject,
                                        text_body=text_body, html_body=html_body,
                                        updated_at=clock.now())


def _speaking(user, language: str):
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])
    return user


@pytest.fixture
def request_waiting(world):
    """The requester's request, waiting for the approver of stage 1."""
    request = submit_request(world)
    return request, request.stages.get(order=1)


def _approval_needed(request, stage, recipient):
    return render_email("approval_needed", {"request_id": request.pk, "stage_id": stage.pk},
                        recipient)


# The recipient's language


def test_a_french_override_is_used_for_a_french_speaking_recipient(world, request_waiting):
    request, stage = request_waiting
    _override("approval_needed", "fr", "Approbation requise : {{ request.access_package }}",
              "Décidez ici : {{ approval_url }}", "<p>Version française</p>")
    _override("approval_needed", "", "For everyone: {{ request.access_package }}",
              "All languages")

    rendered = _approval_needed(request, stage, _speaking(world.approver, "fr"))

    assert rendered.subject == "Approbation requise : Falcon collaboration"
    assert rendered.text == f"Décidez ici : {approval_link_url(stage, world.approver.pk)}"
    assert rendered.html == "<p>Version française</p>"


@pytest.mark.parametrize("language", ["de", ""])
def test_other_recipients_get_the_all_languages_override(world, request_waiting, language):
    request, stage = request_waiting
    _override("approval_needed", "fr", "Approbation requise", "En français")
    _override("approval_needed", "", "For everyone: {{ request.access_package }}",
              "All languages")

    rendered = _approval_needed(request, stage, _speaking(world.approver, language))

    assert rendered.subject == "For everyone: Falcon collaboration"
    assert rendered.text == "All languages"


def test_a_german_speaker_gets_the_english_file_without_a_german_one(world, request_waiting):
    request, stage = request_waiting
    _override("approval_needed", "fr", "Approbation requise", "En français")

    rendered = _approval_needed(request, stage, _speaking(world.approver, "de"))

    assert rendered.subject == "Approval needed: Falcon collaboration for Requester"
    assert "waits for your decision" in rendered.text
    assert approval_link_url(stage, world.approver.pk) in rendered.text


def test_a_french_speaker_without_a_french_override_gets_the_french_file(world,
                                                                        request_waiting):
    request, stage = request_waiting
    _override("approval_needed", "de", "Genehmigung erforderlich", "Auf Deutsch")

    rendered = _approval_needed(request, stage, _speaking(world.approver, "fr"))

    assert rendered.subject == "Approbation requise : Falcon collaboration pour Requester"
    assert approval_link_url(stage, world.approver.pk) in rendered.text
    assert '<html lang="fr">' in rendered.html


def test_an_unknown_language_falls_back_to_the_portals(world, request_waiting):
    request, stage = request_waiting
    _override("approval_needed", "en", "In English", "English text")

    rendered = _approval_needed(request, stage, _speaking(world.approver, "tlh"))

    assert (rendered.subject, rendered.text) == ("In English", "English text")


# Escaping


def test_subject_and_text_are_not_html_escaped_but_the_html_is(world):
    world.package.display_name = "R&D <Falcon>"
    world.package.save(update_fields=["display_name"])
    request = submit_request(world, justification="Needs <b>bold</b> & more")
    stage = request.stages.get(order=1)

    rendered = _approval_needed(request, stage, world.approver)

    assert rendered.subject == "Approval needed: R&D <Falcon> for Requester"
    assert "Justification: Needs <b>bold</b> & more" in rendered.text
    assert "“R&D <Falcon>”" in rendered.text
    assert "Needs &lt;b&gt;bold&lt;/b&gt; &amp; more" in rendered.html
    assert "<b>bold</b>" not in rendered.html
    assert "R&amp;D &lt;Falcon&gt;" in rendered.html


def test_a_denial_reason_stays_literal_in_the_text(world, request_waiting):
    request, _ = request_waiting
    payload = {"request_id": request.pk, "justification": "Use <b>R&D</b> instead"}

    rendered = render_email("request_denied", payload, world.requester)

    assert "Reason: Use <b>R&D</b> instead" in rendered.text
    assert "Use &lt;b&gt;R&amp;D&lt;/b&gt; instead" in rendered.html


# The HTML body


def test_a_blank_html_body_puts_the_text_with_clickable_links_in_the_layout(
        world, request_waiting):
    request, stage = request_waiting
    _override("approval_needed", "", "Please decide",
              "Hello {{ recipient }} & co,\n\nDecide here: {{ approval_url }}")
    link = approval_link_url(stage, world.approver.pk)

    rendered = _approval_needed(request, stage, world.approver)

    assert rendered.html.startswith("<!doctype html>")
    assert '<html lang="en">' in rendered.html
    assert "My Access ·" in rendered.html  # the layout's footer
    assert f'<a href="{link}"' in rendered.html
    assert "Hello Approver &amp; co," in rendered.html
    assert rendered.text.startswith("Hello Approver & co,")


def test_a_topic_without_its_own_html_file_gets_its_text_in_the_layout(world, request_waiting):
    request, _ = request_waiting

    rendered = render_email("request_approved", {"request_id": request.pk}, world.requester)

    assert "My Access ·" in rendered.html
    assert "is approved" in rendered.html
    assert '<a href="http://' in rendered.html or '<a href="https://' in rendered.html


def test_every_topic_has_a_subject_and_a_text_file():
    from django.template.loader import get_template

    for topic in TOPICS:
        get_template(f"emails/{topic}.subject")
        get_template(f"emails/{topic}.txt")


def test_an_unknown_topic_is_refused(world):
    with pytest.raises(ValueError, match="approval_nedeed"):
        render_email("approval_nedeed", {}, world.approver)
