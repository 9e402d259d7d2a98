""""Which policy, and why not?" in the admin: pick a person and a package, see for each
policy of the package whether it applies to them and why not (the words come from
governance.selectors.policy_explanations).

Anyone who may read a catalog opens it for that catalog's packages, at
/admin/why-not/?person=<id>&package=<id>; a package of any other catalog is a 404. The
assignment and request pages link to it for their person and package.
"""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path

from governance.models import AccessPackage, Assignment, User
from governance.selectors.permissions import Capability
from governance.selectors.policy_explanations import explain_policies


def readable_packages(user: User):
    return AccessPackage.objects.select_related("catalog").restrict(
        user, Capability.READ).order_by("catalog__display_name", "display_name")


class PackageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, package: AccessPackage) -> str:
        return f"{package.catalog}: {package}"


class WhyNotForm(forms.Form):
    package = PackageChoiceField(queryset=AccessPackage.objects.none(),
                                 label="Access package")

    def __init__(self, actor: User, site, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The person look-up of the other admin forms (PersonLookupAdmin's search).
        self.fields["person"] = forms.ModelChoiceField(
            queryset=User.objects.all(), label="Person",
            widget=AutocompleteSelect(Assignment._meta.get_field("target"), site))
        self.fields["package"].queryset = readable_packages(actor)
        self.order_fields(["person", "package"])


def why_not_view(request, *, site):
    package_id = request.GET.get("package")
    if package_id and not (package_id.isdigit()
                           and readable_packages(request.user).filter(pk=package_id).exists()):
        raise Http404("No package of your catalogs has this id.")
    form = WhyNotForm(request.user, site, request.GET if request.GET else None)
    explanation = None
    if form.is_bound and form.is_valid():
        explanation = explain_policies(form.cleaned_data["person"], form.cleaned_data["package"])
    context = {**site.each_context(request), "title": "Which policy, and why not?",
               "form": form, "explanation": explanation,
               "media": form.media}
    return TemplateResponse(request, "admin/governance/why_not/page.html", context)


def why_not_urls(site) -> list:
    """The page's URL, for PortalAdminSite.get_urls."""

    def view(request):
        return why_not_view(request, site=site)

    return [path("why-not/", site.admin_view(view), name="why_not")]
