"""Delivery of resource roles into target systems. Each connector is looked up by its key."""

from governance.connectors.base import ChangeResult, Connector, ConnectorError, RoleChange
from governance.connectors.local import LocalGroupConnector

_REGISTRY: dict[str, Connector] = {"local": LocalGroupConnector()}


def get_connector(key: str) -> Connector:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConnectorError(f"No connector named “{key}” is configured.",
                             retryable=False) from None


def in_transaction_connector_keys() -> list[str]:
    return [key for key, connector in _REGISTRY.items() if connector.in_transaction]


def register_connector(connector: Connector) -> None:
    _REGISTRY[connector.key] = connector


__all__ = ["ChangeResult", "Connector", "ConnectorError", "RoleChange", "get_connector",
           "in_transaction_connector_keys", "register_connector"]
