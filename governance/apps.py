from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Entitlement management"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # These connect, as they are imported, the steps they carry out for the request
        # lifecycle and the outbox's webhook channel: both call them without importing them
        # (governance.services.request_lifecycle), so they must be in before anything moves.
        from governance.services import approvals, delivery, extensions  # noqa: F401
