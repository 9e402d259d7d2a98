"""The connector interface. Every operation is idempotent: doing it twice changes nothing more.

The delivery service claims rows, calls `apply` outside any transaction, and records each
result on its delivery row. Connectors for SCIM, Microsoft Entra and webhooks implement the
same interface.
"""

from dataclasses import dataclass

from governance.choices import DeliveryAction


class ConnectorError(Exception):
    """A target system refused or failed; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class RoleChange:
    delivery_id: int
    action: str
    user_id: int
    user_email: str
    origin_system: str
    resource_origin_id: str
    role_origin_id: str


@dataclass(frozen=True)
class ChangeResult:
    delivery_id: int
    error: str = ""
    retryable: bool = True

    @property
    def ok(self) -> bool:
        return not self.error


class Connector:
    key = ""
    # True for a connector that writes only to the portal's own database: its changes are
    # made inside the transaction that asks for them, so they commit or roll back together.
    in_transaction = False

    def grant(self, change: RoleChange) -> None:
        raise NotImplementedError

    def revoke(self, change: RoleChange) -> None:
        raise NotImplementedError

    def ensure_user(self, *, user_id: int, email: str) -> None:
        """Make the person exist in the target system (a no-op where they always do)."""

    def block_user(self, *, user_id: int, email: str) -> None:
        """Stop the person signing in to the target system."""

    def delete_user(self, *, user_id: int, email: str) -> None:
        """Remove the person from the target system."""

    def apply(self, changes: list[RoleChange]) -> list[ChangeResult]:
        """Carry out many changes; one result per change. Batch-capable connectors override."""
        results = []
        for change in changes:
            try:
                if change.action == DeliveryAction.GRANT:
                    self.grant(change)
                else:
                    self.revoke(change)
                results.append(ChangeResult(change.delivery_id))
            except ConnectorError as exc:
                results.append(ChangeResult(change.delivery_id, str(exc), exc.retryable))
        return results
