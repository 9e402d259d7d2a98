from governance.models.api import ApiClient, PersonalToken
from governance.models.assignment import Assignment, RoleDelivery
from governance.models.audit import AuditEvent, AuditLogIsAppendOnly
from governance.models.automatic import RuleEvaluation
from governance.models.bulk_assignment import BulkAssignmentJob, BulkAssignmentRow
from governance.models.catalog import Catalog, CatalogRoleAssignment, GlobalRoleAssignment
from governance.models.directory import (
    ConnectedOrganization,
    ExternalUser,
    Group,
    GroupMembership,
    IdentitySource,
    Person,
    TenantSettings,
    User,
)
from governance.models.extension import CustomExtension, ExtensionCallout, PolicyExtensionStage
from governance.models.notifications import ApprovalDelegation, EmailTemplate
from governance.models.outbox import OutboxMessage
from governance.models.package import AccessPackage, Resource, ResourceRole, ResourceRoleScope
from governance.models.people_import import PeopleImportJob, PeopleImportRow
from governance.models.policy import ApprovalStageSetting, ApproverSet, AssignmentPolicy, Question
from governance.models.provisioning import ProvisioningClient
from governance.models.request import (
    ApprovalDecision,
    ApprovalStage,
    AssignmentRequest,
    RequestAnswer,
    StageApprover,
)
from governance.models.review import (
    AccessReview,
    DecisionReviewer,
    ReviewDecision,
    ReviewReviewer,
)
from governance.models.system import SystemAccount, TargetSystem

__all__ = [
    "AccessPackage", "AccessReview", "ApiClient", "ApprovalDecision", "ApprovalDelegation",
    "ApprovalStage", "ApprovalStageSetting", "ApproverSet", "Assignment", "AssignmentPolicy",
    "AssignmentRequest", "AuditEvent", "AuditLogIsAppendOnly", "BulkAssignmentJob",
    "BulkAssignmentRow", "Catalog", "CatalogRoleAssignment", "ConnectedOrganization",
    "CustomExtension", "DecisionReviewer", "EmailTemplate", "ExtensionCallout", "ExternalUser",
    "GlobalRoleAssignment", "Group", "GroupMembership", "IdentitySource", "OutboxMessage",
    "PeopleImportJob", "PeopleImportRow", "Person", "PersonalToken", "PolicyExtensionStage",
    "ProvisioningClient", "Question", "RequestAnswer",
    "Resource",
    "ResourceRole", "ResourceRoleScope", "ReviewDecision", "ReviewReviewer", "RoleDelivery",
    "RuleEvaluation",
    "StageApprover", "SystemAccount", "TargetSystem", "TenantSettings", "User",
]
