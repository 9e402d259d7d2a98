"""The package builder's admin forms as a browser would post them, for the page tests."""




from governance.choices import (
    AllowedTargetScope,
    ExpirationType,
)

CATALOGS = "admin:governance_catalog"
RESOURCES = "admin:governance_resource"
PACKAGES = "admin:governance_accesspackage"
POLICIES = "admin:governance_assignmentpolicy"
NO_QUESTIONS = {"questions-TOTAL_FORMS": "0", "questions-INITIAL_FORMS": "0",
                "questions-MIN_NUM_FORMS": "0", "questions-MAX_NUM_FORMS": "1000",
                # The custom extensions inline of a saved policy's page.
                "extension_stages-TOTAL_FORMS": "0", "extension_stages-INITIAL_FORMS": "0"}



def field_errors(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def stage_form(order: int, **values) -> dict:
    defaults = {"approvers": [], "approver_group": "", "dynamic_approver": "",
                "fallback_approvers": [], "escalation_approvers": [],
                "escalate_after_days": "", "deadline_days": "14"}
    return {f"stage{order}_{name}": value for name, value in (defaults | values).items()
            if value is not False}


def policy_form(world, package, **overrides) -> dict:
    form = {
        "access_package": package.pk, "display_name": "Contoso partners",
        "description": "Partners working on Falcon.",
        "allowed_target_scope": AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
        "specific_connected_organizations": [world.organization.pk],
        "enable_self_add": "on", "enable_self_update": "on", "enable_self_remove": "on",
        "is_requestor_justification_required": "on", "is_approval_required_for_add": "on",
        "expiration_type": ExpirationType.AFTER_DURATION, "expiration_days": "30",
        "expiration_hours": "", "review_settings": "{}", "send_assignment_emails": "on",
        **stage_form(1, approvers=[world.approver.pk]),
        **stage_form(2, approvers=[world.second_approver.pk], deadline_days="7"),
        **stage_form(3),
        **NO_QUESTIONS,
    }
    return form | overrides


def question_form(index: int = 0, **values) -> dict:
    defaults = {"sequence": "1", "kind": "text", "text": "Which project code?",
                "localizations_text": "fr: Quel code de projet ?", "is_required": "on",
                "is_single_line": "on", "regex_pattern": r"[A-Z]{3}-\d{4}",
                "choices_text": ""}
    return {f"questions-{index}-{name}": value for name, value in (defaults | values).items()}
