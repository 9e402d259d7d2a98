"""Make a person's own API token and print it, once, for scripts."""

from django.core.management.base import BaseCommand, CommandError

from governance.models import User
from governance.services.api_tokens import personal_token_create
from governance.services.errors import Refused


class Command(BaseCommand):
    help = "Make a bearer token that acts as the person with this email, and print it."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line")
        parser.add_argument("--days", type=int, default=None,
                            help="How long the token lasts (default API_TOKEN_DEFAULT_DAYS, "
                                 "at most API_TOKEN_MAX_DAYS).")

    def handle(self, *args, email, name, days, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"Nobody has the email address {email}.")
        try:
            _token, token = personal_token_create(user=user, name=name, lifetime_days=days)
        except Refused as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(token)
