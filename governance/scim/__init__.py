"""The inbound SCIM 2.0 service provider (RFC 7643/7644) at /scim/v2/: identity providers
(Entra ID, Okta, ...) push people and groups, which go through the people and group services.
scim2-server serves the protocol; governance.scim.storage is the directory behind it."""
