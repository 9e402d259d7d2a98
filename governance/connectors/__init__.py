"""Delivery of resource roles into target systems.

A connector is looked up by its key (the resource's `connector`); the connectors of
configured systems (SCIM, Microsoft Entra) get one instance per system and batch.
"""

from governance.connectors.base import (
    ChangeResult,
    Connector,
    ConnectorError,
    DiscoveredResource,
    DiscoveredRole,
    Person,
    RoleChange,
)
from governance.connectors.local import LocalGroupConnector

# Connectors that need no configuration: one shared instance each.
_REGISTRY: dict[str, Connector] = {"local": LocalGroupConnector()}
# Connectors of configured systems, by TargetSystem.kind.
_CLASSES: dict[str, type[Connector]] = {}


def get_connector(key: str, system=None) -> Connector:
    """The connector for a resource's `connector` key and, if it has one, its system."""
    if key in _CLASSES:
        if system is None:
            raise ConnectorError("This resource names no target system to deliver into.",
                                 retryable=False)
        return _CLASSES[key](system)
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConnectorError(f"No connector named “{key}” is configured.",
                             retryable=False) from None


def connector_for_system(system) -> Connector:
    return get_connector(system.kind, system)


def in_transaction_connector_keys() -> list[str]:
    return [key for key, connector in _REGISTRY.items() if connector.in_transaction]


def register_connector(connector: Connector) -> None:
    _REGISTRY[connector.key] = connector


def register_system_connector(kind: str, connector_class: type[Connector]) -> None:
    _CLASSES[kind] = connector_class


from governance.connectors.scim import ScimConnector  # noqa: E402 - registered below

register_system_connector("scim", ScimConnector)

from governance.connectors.entra import EntraConnector  # noqa: E402 - registered below

register_system_connector("entra", EntraConnector)


__all__ = ["ChangeResult", "Connector", "ConnectorError", "DiscoveredResource",
           "DiscoveredRole", "Person", "RoleChange", "connector_for_system", "get_connector",
           "in_transaction_connector_keys", "register_connector", "register_system_connector"]
