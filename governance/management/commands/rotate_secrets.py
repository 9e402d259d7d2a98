"""Re-encrypt the stored secrets under the newest key of SECRETS_KEY (README: key rotation)."""

from django.core.management.base import BaseCommand, CommandError

from governance.security.secrets import SecretUnavailable
from governance.services.secret_fields import secrets_rotate


class Command(BaseCommand):
    help = ("Re-encrypt every secret stored in the database under the first key of "
            "SECRETS_KEY, so that the keys after it can be removed.")

    def handle(self, *args, **options):
        try:
            result = secrets_rotate()
        except SecretUnavailable as problem:
            raise CommandError(str(problem)) from problem
        self.stdout.write(f"Re-encrypted {result.rotated} stored secret"
                          f"{'' if result.rotated == 1 else 's'} under the newest key.")
        if result.unreadable:
            raise CommandError(
                "No key of SECRETS_KEY opens these secrets; enter them again in the admin, or "
                "put back the key they were saved under and run this again: "
                + "; ".join(result.unreadable))
