"""`Authorization: Bearer <token>` for the API: API clients and people's own tokens."""

from rest_framework import authentication, exceptions

from governance.services.api_tokens import token_authenticate


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """request.user is the person (delegated token) or the API client's service principal
    (``request.user.api_client``); request.auth is the set of Graph permission names the call
    may use."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer' followed by one token.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        found = token_authenticate(raw)
        if found is None:
            raise exceptions.AuthenticationFailed(
                "The token is not valid: it is unknown, revoked or expired.")
        return found

    def authenticate_header(self, request):
        return self.keyword
