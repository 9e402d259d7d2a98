"""The forms of direct assignment and of bulk assignment from a CSV file, and their page.

They only collect what the services take: `request_admin_add` and `bulk_assignment_start`
decide, and their refusals are put beside the field they name. The package and policy
choices are those of the catalogs where the person may assign.
"""

from django import forms
from django.db.models.functions import Lower
from django.template.response import TemplateResponse

from governance.models import AccessPackage, AssignmentPolicy, User
from governance.selectors.permissions import Capability
from governance.services.bulk_assignments import MAX_BYTES, MAX_ROWS
from governance.services.errors import RefusalFormMixin, Refused


class PolicyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, policy: AssignmentPolicy) -> str:
        return f"{policy.access_package}: {policy}"


class PackagePolicyForm(RefusalFormMixin, forms.Form):
    """An access package and one of its policies, both in the person's catalogs."""

    access_package = forms.ModelChoiceField(queryset=AccessPackage.objects.none(),
                                            label="Access package")
    policy = PolicyChoiceField(
        queryset=AssignmentPolicy.objects.none(), label="Policy",
        help_text="The policy the access is given under: it sets when the access expires.")

    def __init__(self, actor: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        packages = AccessPackage.objects.select_related("catalog").restrict(
            actor, Capability.ASSIGNMENTS).order_by("display_name")
        policies = AssignmentPolicy.objects.select_related("access_package").restrict(
            actor, Capability.ASSIGNMENTS).order_by("access_package__display_name",
                                                    "display_name")
        chosen = self.data.get("access_package") or self.initial.get("access_package")
        if chosen and str(chosen).isdigit():
            policies = policies.filter(access_package_id=chosen)
        self.fields["access_package"].queryset = packages
        self.fields["policy"].queryset = policies

    def clean(self):
        cleaned = super().clean()
        package, policy = cleaned.get("access_package"), cleaned.get("policy")
        if package and policy and policy.access_package_id != package.pk:
            self.add_error("policy", f"Choose a policy of “{package}”.")
        return cleaned

class AssignDirectlyForm(PackagePolicyForm):
    email = forms.EmailField(label="Person's email",
                             help_text="Someone already in the directory (member or guest).")
    start_at = forms.DateTimeField(
        label="Starts", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Blank: at once. Only if the policy lets you choose when access starts.")
    end_at = forms.DateTimeField(
        label="Ends", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Blank: when the policy says.")
    justification = forms.CharField(label="Justification", required=False,
                                    widget=forms.Textarea(attrs={"rows": 3}))

    field_order = ["access_package", "policy", "email", "start_at", "end_at", "justification"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        self.person = User.objects.annotate(email_lower=Lower("email")).filter(
            email_lower=email.lower()).first()
        if self.person is None:
            raise forms.ValidationError("No one with this email address is in the directory.")
        return email


class BulkUploadForm(PackagePolicyForm):
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=(f"UTF-8, at most {MAX_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} rows. The "
                   "first line names the columns: email, and if you like start, end (dates "
                   "such as 2026-03-31; the access lasts through the end date) and "
                   "justification."))
    justification = forms.CharField(label="Justification", required=False,
                                    widget=forms.Textarea(attrs={"rows": 3}),
                                    help_text="For the rows without one of their own.")


def assign_page(model_admin, request, form: PackagePolicyForm, act, context: dict):
    """The page of an assignment form. On a valid POST, `act(cleaned_data)` calls the service
    and returns the response to go on with; its refusal is shown on the form instead."""
    if request.method == "POST" and form.is_valid():
        try:
            return act(form.cleaned_data)
        except Refused as refusal:
            form.add_refusal(refusal)
    context = {**model_admin.admin_site.each_context(request), "opts": model_admin.opts,
               "form": form, **context}
    return TemplateResponse(request, "admin/governance/assignment/assign.html", context)
