"""Forms of the My Access pages. They shape input; the services decide what is allowed, and
a refusal is shown beside the field it names."""

from django import forms

from governance.choices import QuestionKind
from governance.models import AssignmentPolicy, Question, RequestAnswer, User
from governance.services.errors import RefusalFormMixin


def _question_field(question: Question, language: str | None) -> forms.Field:
    label = question.text_for(language)
    if question.kind == QuestionKind.CHOICE:
        choices = [(choice["value"], choice.get("localizations", {}).get(language or "",
                                                                          choice["text"]))
                   for choice in question.choices]
        if question.allows_multiple_selection:
            return forms.MultipleChoiceField(label=label, choices=choices, required=False,
                                             widget=forms.CheckboxSelectMultiple)
        return forms.ChoiceField(label=label, choices=choices, required=False,
                                 widget=forms.RadioSelect)
    widget = forms.TextInput if question.is_single_line else forms.Textarea(attrs={"rows": 3})
    return forms.CharField(label=label, required=False, widget=widget,
                           max_length=RequestAnswer.VALUE_MAX)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class RequestForm(RefusalFormMixin, forms.Form):
    """Request a package: policy (when several apply), justification, answers, dates, target."""

    justification = forms.CharField(label="Justification", required=False, max_length=2000,
                                    widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, policies: list[AssignmentPolicy], reports: list[User] = (),
                 language: str | None = None, extension: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.policies = {str(policy.pk): policy for policy in policies}
        if len(policies) > 1:
            self.fields["policy"] = forms.ChoiceField(
                label="Policy", widget=forms.RadioSelect,
                choices=[(str(policy.pk), policy.display_name) for policy in policies])
            self.order_fields(["policy"])
        if reports:
            self.fields["target"] = forms.TypedChoiceField(
                label="Request for", coerce=int, required=False,
                choices=[("", "Myself")] + [(person.pk, str(person)) for person in reports])
            self.order_fields(["target"] + list(self.fields))
        questions = {}
        for policy in policies:
            for question in policy.questions.all():
                questions.setdefault(question.pk, question)
        self.question_fields = []
        for question in questions.values():
            name = f"question_{question.pk}"
            self.fields[name] = _question_field(question, language)
            self.question_fields.append(name)
        if any(policy.allow_custom_schedule for policy in policies):
            if not extension:  # an extension starts from the access the person holds
                self.fields["start_at"] = forms.DateTimeField(
                    label="Start date", required=False, widget=DateTimeInput)
            self.fields["end_at"] = forms.DateTimeField(label="End date", required=False,
                                                        widget=DateTimeInput)

    def chosen_policy_id(self) -> int | None:
        if "policy" in self.cleaned_data:
            return int(self.cleaned_data["policy"])
        return int(next(iter(self.policies))) if self.policies else None

    def answers_for(self, policy_id: int) -> dict[str, object]:
        """The answers to the questions of the chosen policy (others may be on the page)."""
        asked = {str(question.pk) for question in self.policies[str(policy_id)].questions.all()}
        return {name.removeprefix("question_"): self.cleaned_data.get(name)
                for name in self.question_fields if name.removeprefix("question_") in asked}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_at"), cleaned.get("end_at")
        if start and end and end <= start:
            self.add_error("end_at", "The end date must be after the start date.")
        return cleaned


class DecisionForm(RefusalFormMixin, forms.Form):
    justification = forms.CharField(label="Justification", required=False, max_length=2000,
                                    widget=forms.Textarea(attrs={"rows": 3}))

