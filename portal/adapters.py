from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages

from governance.selectors.directory import sign_in_refusal_reason


class AccountAdapter(DefaultAccountAdapter):
    def respond_user_inactive(self, request, user):
        # allauth only knows "inactive"; the person deserves to know why and what to do.
        messages.error(request, sign_in_refusal_reason(user))
        return super().respond_user_inactive(request, user)
