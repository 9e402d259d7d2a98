"""Register a provisioning client (an identity provider pushing people over SCIM) as the
system and print its token, once, to paste into the identity provider."""

from django.core.management.base import BaseCommand, CommandError

from governance.services.errors import Refused
from governance.services.provisioning_clients import provisioning_client_create


class Command(BaseCommand):
    help = ("Register a SCIM provisioning client (e.g. 'Okta') and print its bearer token "
            "(shown only this once). The SCIM base URL is <portal>/scim/v2/.")

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            _client, token = provisioning_client_create(actor=None, display_name=name,
                                                        system=True)
        except Refused as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(token)
