"""The questions of a policy in the admin: an inline whose forms are checked by question_check
and saved by question_save / question_delete after the policy."""


from django import forms
from django.contrib import admin

from governance.admin.builder import (
    ScopedInline,
    ServiceInlineFormSet,
)
from governance.admin.scoped import ServiceCheckedValues
from governance.models import (
    Question,
)
from governance.selectors.permissions import Capability
from governance.services.errors import InvalidInput
from governance.services.questions import question_check, question_delete, question_save


def _choices_text(choices: list[dict]) -> str:
    return "\n".join(choice["text"] if choice["value"] == choice["text"]
                     else f"{choice['value']} | {choice['text']}" for choice in choices)


def _localizations_text(localizations: dict) -> str:
    return "\n".join(f"{language}: {text}" for language, text in localizations.items())


# What question_check takes, besides choices and localizations.
QUESTION_FIELDS = ["sequence", "kind", "text", "is_required", "is_answer_editable",
                   "is_single_line", "regex_pattern", "allows_multiple_selection"]


class QuestionForm(ServiceCheckedValues, forms.ModelForm):
    choices_text = forms.CharField(
        required=False, label="Choices", widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="For a multiple-choice question, one per line: value | text (eu | Europe). "
                  "A line without | is both.")
    localizations_text = forms.CharField(
        required=False, label="Translations",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
        help_text="One per line: language: text (fr: Pour quel projet ?).")

    class Meta:
        model = Question
        fields = QUESTION_FIELDS
        labels = {"sequence": "Order", "regex_pattern": "Pattern",
                  "is_single_line": "Single line",
                  "allows_multiple_selection": "Several choices allowed"}
        help_texts = {"regex_pattern": "For a text question: a regular expression the whole "
                                       "answer must match, e.g. [A-Z]{3}-\\d{4}."}

    FIELD_FOR = {"choices": "choices_text", "localizations": "localizations_text"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("choices_text", _choices_text(self.instance.choices))
            self.initial.setdefault("localizations_text",
                                    _localizations_text(self.instance.localizations))

    def _choices(self) -> list[dict]:
        earlier = {choice["value"]: choice for choice in self.instance.choices or ()}
        choices = []
        for line in (self.cleaned_data.get("choices_text") or "").splitlines():
            if not line.strip():
                continue
            value, _, text = (part.strip() for part in line.partition("|"))
            choice = {"value": value, "text": text or value}
            # Translations of a choice are kept while its value stays.
            if earlier.get(value, {}).get("localizations"):
                choice["localizations"] = earlier[value]["localizations"]
            choices.append(choice)
        return choices

    def _localizations(self) -> dict:
        pairs = {}
        for line in (self.cleaned_data.get("localizations_text") or "").splitlines():
            if line.strip():
                language, _, text = (part.strip() for part in line.partition(":"))
                pairs[language] = text
        return pairs

    def clean(self):
        cleaned = super().clean()
        self.checked = None
        if self.errors:
            return cleaned
        fields = {name: cleaned.get(name) for name in QUESTION_FIELDS}
        try:
            self.checked = question_check(**fields, choices=self._choices(),
                                          localizations=self._localizations())
        except InvalidInput as refusal:
            field = self.FIELD_FOR.get(refusal.field, refusal.field)
            self.add_error(field if field in self.fields else None, refusal.message)
        return cleaned


class QuestionFormSet(ServiceInlineFormSet):
    def changes(self):
        calls = []
        for form, deleted in self.live_forms():
            question_id = form.instance.pk
            if deleted:
                calls.append(lambda question_id=question_id: question_delete(
                    actor=self.actor, question_id=question_id))
            elif question_id is None or form.has_changed():
                calls.append(lambda question_id=question_id, fields=form.checked: question_save(
                    actor=self.actor, policy_id=self.instance.pk, question_id=question_id,
                    **fields))
        return calls


class QuestionInline(ScopedInline, admin.StackedInline):
    model = Question
    form = QuestionForm
    formset = QuestionFormSet
    capability = Capability.PACKAGES
    extra = 0
    verbose_name = "question"
    verbose_name_plural = "Questions for the requestor"

    EDIT_FIELDS = [("sequence", "kind"), "text", "localizations_text",
                   ("is_required", "is_answer_editable"), ("is_single_line", "regex_pattern"),
                   ("choices_text", "allows_multiple_selection")]
    VIEW_FIELDS = [("sequence", "kind"), "text", "localizations",
                   ("is_required", "is_answer_editable"), ("is_single_line", "regex_pattern"),
                   ("choices", "allows_multiple_selection")]

    def get_fields(self, request, obj=None):
        return self.EDIT_FIELDS if self.has_change_permission(request, obj) \
            else self.VIEW_FIELDS
