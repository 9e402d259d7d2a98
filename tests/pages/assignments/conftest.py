"""The people and packages of the assignment admin's tests: one catalog (Projects) whose
assignment manager acts and whose reader only reads, and another catalog (Zulu)."""


import pytest

from governance.choices import (
    CatalogRole,
)
from governance.services.delivery import deliveries_process
from governance.services.requests import request_admin_add, request_submit
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    group_role,
    open_package,
    role_holder,
)


@pytest.fixture
def wiki(world):
    return open_package(world)


@pytest.fixture
def zulu(world):
    """Another catalog, with a delivered assignment and a pending request."""
    catalog = CatalogFactory(display_name="Zulu catalog")
    owner = role_holder(catalog, CatalogRole.OWNER, email="zulu.owner@access.example")
    package = PackageFactory(catalog=catalog, display_name="Zulu package")
    group_role(package, GroupFactory(display_name="Zulu group"))
    policy = PolicyFactory(access_package=package, display_name="Zulu policy")
    person = UserFactory(email="zulu.person@access.example", display_name="Zulu Person")
    added = request_admin_add(actor=owner, access_package_id=package.pk, policy_id=policy.pk,
                              target=person)
    deliveries_process(assignment_ids=[added.assignment_id])
    approval = PolicyFactory(access_package=package, display_name="Zulu approval",
                             allowed_target_scope="allMemberUsers",
                             is_approval_required_for_add=True)
    approval.stages.create(order=1)
    waiting = UserFactory(email="zulu.waiting@access.example", display_name="Zulu Waiting")
    pending = request_submit(requestor=waiting, access_package_id=package.pk)
    added.refresh_from_db()
    return {"package": package, "policy": policy, "assignment": added.assignment,
            "request": pending}


@pytest.fixture
def manager(world):
    return role_holder(world.catalog, CatalogRole.ASSIGNMENT_MANAGER,
                       email="assignments@access.example", display_name="Assignment Manager")


@pytest.fixture
def reader(world):
    return role_holder(world.catalog, CatalogRole.READER, email="reader@access.example",
                       display_name="Catalog Reader")


@pytest.fixture
def assigned(world, wiki):
    """The member holds the wiki, delivered; the outsider holds Falcon, still delivering."""
    package, policy = wiki
    member = request_admin_add(actor=world.owner, access_package_id=package.pk,
                               policy_id=policy.pk, target=world.member)
    deliveries_process()
    outsider = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                                 policy_id=world.policy.pk, target=world.outsider)
    member.refresh_from_db()
    return member.assignment, outsider.assignment
