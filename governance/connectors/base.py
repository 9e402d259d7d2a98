"""The connector interface. Every operation is idempotent: doing it twice changes nothing more.

The delivery service claims rows, calls `apply` outside any transaction, and records each
result on its delivery row. The local groups, SCIM and Microsoft Entra connectors implement
the same interface; one instance serves one configured target system.
"""

from dataclasses import dataclass, field

from governance.choices import DeliveryAction


class ConnectorError(Exception):
    """A target system refused or failed; `retryable` says whether trying later may help,
    and `retry_after` (seconds) how long the system asked us to wait, when it said."""

    def __init__(self, message: str, *, retryable: bool = True,
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Person:
    """Who a change is for; `external_id` is their id in the target system once known."""

    user_id: int
    email: str
    display_name: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class RoleChange:
    delivery_id: int
    action: str
    user_id: int
    user_email: str
    origin_system: str
    resource_origin_id: str
    role_origin_id: str
    user_display_name: str = ""
    # The person's id in the target system, when an earlier delivery learned it.
    user_external_id: str = ""

    @property
    def person(self) -> Person:
        return Person(self.user_id, self.user_email, self.user_display_name,
                      self.user_external_id)


@dataclass(frozen=True)
class ChangeResult:
    delivery_id: int
    error: str = ""
    retryable: bool = True
    retry_after: float | None = None
    # The person's id in the target system, when this change found or created the account.
    external_user_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @classmethod
    def failed(cls, delivery_id: int, exc: ConnectorError) -> "ChangeResult":
        return cls(delivery_id, str(exc), exc.retryable, exc.retry_after)


@dataclass(frozen=True)
class DiscoveredRole:
    display_name: str
    origin_id: str


@dataclass(frozen=True)
class DiscoveredResource:
    """A group or application found in a target system by "Refresh"."""

    display_name: str
    origin_system: str
    origin_id: str
    description: str = ""
    roles: list[DiscoveredRole] = field(default_factory=list)


class Connector:
    key = ""
    # True for a connector that writes only to the portal's own database: its changes are
    # made inside the transaction that asks for them, so they commit or roll back together.
    in_transaction = False

    def __init__(self, system=None):
        self.system = system  # the TargetSystem row, for connectors of configured systems

    def grant(self, change: RoleChange) -> None:
        raise NotImplementedError

    def revoke(self, change: RoleChange) -> None:
        raise NotImplementedError

    def ensure_user(self, person: Person) -> str:
        """Find or create the person in the target system; returns their id there."""
        return str(person.user_id)

    def block_user(self, person: Person) -> None:
        """Stop the person signing in to the target system."""

    def unblock_user(self, person: Person) -> None:
        """Let a blocked person sign in again."""

    def delete_user(self, person: Person) -> None:
        """Remove the person from the target system."""

    def check(self) -> str:
        """Talk to the system with the configured credentials; returns what it said, in words.

        :raises ConnectorError: with the system's own error text.
        """
        return "Nothing to connect to: roles are delivered in the portal's own database."

    def discover(self) -> list[DiscoveredResource]:
        """The groups and applications (with their roles) that the system offers."""
        return []

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
                results.append(ChangeResult.failed(change.delivery_id, exc))
        return results
