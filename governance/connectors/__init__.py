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


def register_connector(connector: Connector) -> None:
    _REGISTRY[connector.key] = connector


__all__ = ["ChangeResult", "Connector", "ConnectorError", "RoleChange", "get_connector",
           "register_connector"]
