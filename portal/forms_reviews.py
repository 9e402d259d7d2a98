"""The form of one person in an access review: Approve, Deny or Don't know, and a
Justification. The review service decides what is allowed (a required justification, a
review that has ended); its refusal shows beside the field it names."""

from django import forms

from governance.choices import ReviewDecisionValue
from governance.services.errors import RefusalFormMixin

CHOICES = [(value, ReviewDecisionValue(value).label) for value in
           (ReviewDecisionValue.APPROVE, ReviewDecisionValue.DENY, ReviewDecisionValue.DONT_KNOW)]
# A self-review asks "Do you still need access?": Yes keeps it, No gives it up.
SELF_CHOICES = [(ReviewDecisionValue.APPROVE, "Yes"), (ReviewDecisionValue.DENY, "No")]


class ReviewDecisionForm(RefusalFormMixin, forms.Form):
    decision = forms.ChoiceField(
        label="Decision", widget=forms.RadioSelect, choices=CHOICES,
        error_messages={"required": "Choose Approve, Deny or Don't know."})
    justification = forms.CharField(label="Justification", required=False, max_length=2000,
                                    widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, decision, justification_required: bool = False,
                 self_review: bool = False, package=None, **kwargs):
        """One form per decision row, its fields prefixed by the row's id so that many share a
        page; unbound, it starts from the decision recorded so far."""
        if decision.decision in dict(CHOICES):
            kwargs.setdefault("initial", {"decision": decision.decision,
                                          "justification": decision.justification})
        super().__init__(*args, prefix=f"decision-{decision.pk}", **kwargs)
        self.row = decision
        if self_review:
            field = self.fields["decision"]
            field.label = f"Do you still need access to {package}?"
            field.choices = SELF_CHOICES
            field.error_messages["required"] = "Choose Yes or No."
        if justification_required:
            self.fields["justification"].help_text = "A justification is required."
