"""Register an API client as the system and print its token, once, for scripts."""

from django.core.management.base import BaseCommand, CommandError

from governance.choices import ApiPermission
from governance.services.api_tokens import api_client_create
from governance.services.errors import Refused


class Command(BaseCommand):
    help = "Register an API client and print its bearer token (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--permission", action="append", dest="permissions",
                            choices=ApiPermission.values, required=True,
                            help="A Graph permission name; repeat for several.")

    def handle(self, *args, name, permissions, **options):
        try:
            _client, token = api_client_create(actor=None, display_name=name,
                                               permissions=permissions, system=True)
        except Refused as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(token)
