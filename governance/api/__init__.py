"""The REST API in Microsoft Graph's entitlement-management dialect."""
