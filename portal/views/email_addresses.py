"""allauth's email addresses page under the sign-up rules (portal.signup): an address is added
only if it could sign up, and becomes primary only if it keeps the account's standing."""

from allauth.account.models import EmailAddress
from allauth.account.views import EmailView
from django.contrib import messages
from django.http import HttpResponseRedirect

from portal.signup import AddEmailForm, primary_address_refusal


class EmailAddressesView(EmailView):
    form_class = AddEmailForm

    def post(self, request, *args, **kwargs):
        # allauth has no hook before it changes the primary address, so the rule runs here.
        email = request.POST.get("email", "")
        if "action_primary" in request.POST and email and \
                EmailAddress.objects.filter(user=request.user, email__iexact=email).exists():
            refusal = primary_address_refusal(request.user, email)
            if refusal:
                messages.error(request, refusal)
                return HttpResponseRedirect(self.get_success_url())
        return super().post(request, *args, **kwargs)


email_addresses = EmailAddressesView.as_view()
