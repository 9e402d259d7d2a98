"""People, groups, connected organizations and the tenant's external-user lifecycle settings."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from governance.choices import (
    AccountState,
    ConnectedOrganizationState,
    ExternalUserLifecycleAction,
    GroupMembershipRole,
    IdentitySourceType,
    SubjectLifecycle,
    UserType,
)
from governance.models.fields import CreatedAtField, ModifiedAtField


class PortalUserManager(UserManager):
    """Email is the sign-in name; username is kept equal to it for Django's admin."""

    def _create_user(self, username, email, password, **extra_fields):
        email = self.normalize_email(email or username)
        return super()._create_user(email, email, password, **extra_fields)

    def create_user(self, email=None, password=None, **extra_fields):
        return super().create_user(email, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        return super().create_superuser(email, email, password, **extra_fields)


class User(AbstractUser):
    """A person in the directory: a member of the organization or a guest from outside it."""

    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    user_type = models.CharField(max_length=10, choices=UserType, default=UserType.MEMBER)
    connected_organization = models.ForeignKey(
        "governance.ConnectedOrganization", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="users",
    )
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="direct_reports"
    )
    sponsors = models.ManyToManyField("self", blank=True, symmetrical=False,
                                      related_name="sponsored_users")
    subject_lifecycle = models.CharField(max_length=12, choices=SubjectLifecycle,
                                         default=SubjectLifecycle.NOT_DEFINED)
    account_state = models.CharField(max_length=8, choices=AccountState,
                                     default=AccountState.ACTIVE)
    blocked_at = models.DateTimeField(null=True, blank=True)
    delete_due_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    preferred_language = models.CharField(max_length=10, blank=True)
    # IANA name ("Europe/Paris"); dates are shown in it. Empty: the portal's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)
    # The directory attributes that approvers see and attribute rules read (Graph's names in
    # the API, SCIM's core and enterprise schemas over SCIM). db_default: rows inserted in
    # bulk by SQL (the benchmarks' datasets) get them empty too.
    department = models.CharField(max_length=200, blank=True, db_default="")
    job_title = models.CharField(max_length=200, blank=True, db_default="")
    employee_id = models.CharField(max_length=64, blank=True, db_default="")
    employee_type = models.CharField(max_length=64, blank=True, db_default="")
    company_name = models.CharField(max_length=200, blank=True, db_default="")
    division = models.CharField(max_length=200, blank=True, db_default="")
    office_location = models.CharField(max_length=200, blank=True, db_default="")
    cost_center = models.CharField(max_length=64, blank=True, db_default="")
    # The identity provider's own id of the person (SCIM externalId), unique per client.
    external_id = models.CharField(max_length=200, blank=True, db_default="")
    # The provisioning client that keeps this person, and which fields it set (the admin shows
    # them read-only, "managed by <client>"). Null: the portal's own person.
    provisioned_by = models.ForeignKey(
        "governance.ProvisioningClient", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="people",
    )
    provisioned_fields = models.JSONField(null=True, blank=True)
    # The attributes of the person's SCIM resource that the portal keeps but does not use
    # (phone numbers, addresses, ...), returned as they were sent.
    scim_extra = models.JSONField(null=True, blank=True)
    modified_at = ModifiedAtField(null=True)
    # Set by the leaver service (deactivated: sign-in refused, access removed); cleared by
    # re-activation. is_active says the same thing to Django and allauth.
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = PortalUserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    # The attributes a person's profile holds, as the services and the API name them.
    PROFILE_FIELDS = ("department", "job_title", "employee_id", "employee_type",
                      "company_name", "division", "office_location", "cost_center")

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                name="user_blocked_has_time",
                condition=~models.Q(account_state=AccountState.BLOCKED)
                | models.Q(blocked_at__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["provisioned_by", "external_id"], name="one_person_per_external_id",
                condition=~models.Q(external_id=""),
            ),
        ]

    def __str__(self):
        return self.display_name or self.email

    @property
    def is_guest(self) -> bool:
        return self.user_type == UserType.GUEST

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1].lower()


class ExternalUser(User):
    """Guests, as the admin lists them with their lifecycle (a proxy: the same rows)."""

    class Meta:
        proxy = True
        verbose_name = "external user"


class Person(User):
    """People, as user administrators manage them in the admin (a proxy: the same rows; the
    User admin itself is the read-only look-up that autocomplete asks)."""

    class Meta:
        proxy = True
        verbose_name = "person"
        verbose_name_plural = "people"


class Group(models.Model):
    """A group of the portal's own directory; the local connector delivers its memberships."""

    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, through="GroupMembership", related_name="portal_groups")
    created_at = CreatedAtField()
    # A group pushed by an identity provider over SCIM: its id there, and the client.
    external_id = models.CharField(max_length=200, blank=True, db_default="")
    provisioned_by = models.ForeignKey(
        "governance.ProvisioningClient", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="groups",
    )
    scim_extra = models.JSONField(null=True, blank=True)
    modified_at = ModifiedAtField(null=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provisioned_by", "external_id"], name="one_group_per_external_id",
                condition=~models.Q(external_id=""),
            ),
        ]

    def __str__(self):
        return self.display_name


class GroupMembership(models.Model):
    Role = GroupMembershipRole

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="group_memberships")
    role = models.CharField(max_length=6, choices=Role, default=Role.MEMBER)
    created_at = CreatedAtField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user", "role"],
                                    name="one_membership_per_role"),
        ]


class ConnectedOrganization(models.Model):
    """An outside organization whose users may request access."""

    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=ConnectedOrganizationState,
                             default=ConnectedOrganizationState.CONFIGURED)
    internal_sponsors = models.ManyToManyField(User, blank=True,
                                               related_name="internal_sponsor_of")
    external_sponsors = models.ManyToManyField(User, blank=True,
                                               related_name="external_sponsor_of")
    created_at = CreatedAtField()
    modified_at = ModifiedAtField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class IdentitySource(models.Model):
    """How users of a connected organization are recognised: by email domain or tenant id."""

    organization = models.ForeignKey(ConnectedOrganization, on_delete=models.CASCADE,
                                     related_name="identity_sources")
    source_type = models.CharField(max_length=30, choices=IdentitySourceType,
                                   default=IdentitySourceType.DOMAIN)
    display_name = models.CharField(max_length=200, blank=True)
    domain_name = models.CharField(max_length=253, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True)
    issuer_uri = models.URLField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("domain_name"), name="one_organization_per_domain",
                                    condition=~models.Q(domain_name="")),
            models.UniqueConstraint(fields=["tenant_id"], name="one_organization_per_tenant",
                                    condition=~models.Q(tenant_id="")),
            models.CheckConstraint(
                name="identity_source_names_something",
                condition=~models.Q(domain_name="", tenant_id=""),
            ),
        ]

    def __str__(self):
        return self.domain_name or self.tenant_id


class TenantSettings(models.Model):
    """entitlementManagementSettings: one row for the whole portal."""

    external_user_lifecycle_action = models.CharField(
        max_length=24, choices=ExternalUserLifecycleAction,
        default=ExternalUserLifecycleAction.BLOCK_AND_DELETE,
    )
    days_until_external_user_deleted_after_blocked = models.PositiveSmallIntegerField(default=30)
    # Host names, IP addresses and networks (CIDR) that custom extensions may call although
    # they are not public (governance.connectors.outbound); set by a global administrator.
    outbound_allow_list = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "tenant settings"
        verbose_name_plural = "tenant settings"
        constraints = [models.CheckConstraint(name="tenant_settings_singleton",
                                              condition=models.Q(id=1))]

    @classmethod
    def current(cls) -> "TenantSettings":
        settings, _ = cls.objects.get_or_create(id=1)
        return settings
