"""The delegated admin site (`admin_site`) and the model admins registered on it."""

from governance.admin import (
    api_clients,  # noqa: F401 - registers its model admins
    assignments,  # noqa: F401 - registers its model admins
    audit,  # noqa: F401 - registers its model admins
    catalogs,  # noqa: F401 - registers its model admins
    extensions,  # noqa: F401 - registers its model admins
    notifications,  # noqa: F401 - registers its model admins
    organizations,  # noqa: F401 - registers its model admins
    packages,  # noqa: F401 - registers its model admins
    people,  # noqa: F401 - registers its model admins
    people_import,  # noqa: F401 - registers its model admins
    policies,  # noqa: F401 - registers its model admins
    provisioning,  # noqa: F401 - registers its model admins
    requests,  # noqa: F401 - registers its model admins
    reviews,  # noqa: F401 - registers its model admins
    systems,  # noqa: F401 - registers its model admins
)
from governance.admin.site import admin_site

__all__ = ["admin_site"]
