"""The out-of-office form: who stands in, and from which day until which day."""

from django import forms

from governance.services.errors import RefusalFormMixin


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DelegationForm(RefusalFormMixin, forms.Form):
    """Field names follow `delegation_set`'s arguments, so a refusal lands beside its field."""

    delegate_email = forms.EmailField(
        label="Delegate", max_length=254,
        help_text="The email address of a member of your organization.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    starts_on = forms.DateField(label="From", widget=DateInput)
    ends_on = forms.DateField(label="Until", widget=DateInput,
                              help_text="The last day you are away; it is included.")
