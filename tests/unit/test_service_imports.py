"""The services import one another without a cycle, and none hides one in a function: the
request lifecycle calls approvals, extensions and delivery through the steps they connect,
the outbox sends webhooks through the channel extensions connects, and those three never
import one another."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance.models import OutboxMessage
from governance.services import outbox
from governance.services.request_lifecycle import Step, step_performer

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "governance" / "services"
# The modules a request passes through, and the tasks that call them.
REQUEST_FLOW = ["requests", "request_lifecycle", "approvals", "extensions", "delivery",
                "delivery_changes", "expiry", "outbox"]
LEAVES = ["approvals", "extensions", "delivery"]
STEP_MODULES = {Step.APPROVAL: "approvals", Step.STAGE: "approvals",
                Step.CALLOUT: "extensions", Step.ASSIGNMENT_CALLOUTS: "extensions",
                Step.DELIVERY: "delivery"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported(node: ast.AST) -> list[str]:
    """The governance modules an import statement names (a name imported from a package
    counts as its submodule when there is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("governance")]
    if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("governance"):
        return []
    names = [node.module]
    for alias in node.names:
        candidate = f"{node.module}.{alias.name}"
        if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists():
            names.append(candidate)
    return names


def _module_path(module: str) -> Path:
    return (SERVICES / Path(*module.split("."))).with_suffix(".py")


def _service_modules() -> list[str]:
    """Every services module, as "requests" or "internal.guards"."""
    return sorted(".".join(path.relative_to(SERVICES).with_suffix("").parts)
                  for path in SERVICES.rglob("*.py") if path.stem != "__init__")


def _service_imports(module: str) -> tuple[set[str], set[str]]:
    """(every services module `module` imports, those it imports inside a function)."""
    tree = _tree(_module_path(module))
    top_level = set(map(id, tree.body))
    every, local = set(), set()
    for node in ast.walk(tree):
        for name in _imported(node):
            if name.startswith("governance.services."):
                every.add(name.removeprefix("governance.services."))
                if id(node) not in top_level:
                    local.add(name)
    return every, local


def _local_governance_imports(path: Path) -> list[str]:
    tree = _tree(path)
    top_level = set(map(id, tree.body))
    return [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top_level
            and _imported(node)]


@pytest.mark.parametrize("module", _service_modules())
def test_no_services_module_imports_inside_a_function(module):
    assert _local_governance_imports(_module_path(module)) == []


def test_only_the_services_import_their_internals():
    """governance/services/internal is shared by the services; admin, API, pages, tasks and
    commands call the entry points beside it."""
    callers = [path for folder in ("governance", "portal") for path in (ROOT / folder).rglob("*.py")
               if SERVICES not in path.parents]
    reaching_in = [f"{path.relative_to(ROOT)}: {name}" for path in callers
                   for node in ast.walk(_tree(path)) for name in _imported(node)
                   if name.startswith("governance.services.internal")]
    assert reaching_in == []


def test_the_tasks_import_the_services_at_the_top():
    assert _local_governance_imports(ROOT / "governance" / "tasks.py") == []


def test_the_services_import_one_another_without_a_cycle():
    graph = {module: _service_imports(module)[0] for module in _service_modules()}
    cycles = []

    def visit(module, trail):
        if module in trail:
            cycles.append(trail[trail.index(module):] + [module])
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*trail, module])

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_approvals_extensions_and_delivery_do_not_import_one_another():
    for leaf in LEAVES:
        imported, _local = _service_imports(leaf)
        assert imported & (set(LEAVES) - {leaf}) == set(), leaf
    # The lifecycle calls them, but only through the steps they connect.
    imported, _local = _service_imports("request_lifecycle")
    assert imported & set(LEAVES) == set()


def test_every_lifecycle_step_and_the_webhook_channel_is_connected_at_start_up():
    for step, module in STEP_MODULES.items():
        assert step_performer(step).__module__ == f"governance.services.{module}", step
    assert set(STEP_MODULES) == set(Step)
    webhook = outbox._channels[OutboxMessage.Channel.WEBHOOK]
    assert webhook.send.__module__ == "governance.services.extensions"
    assert webhook.gave_up.__module__ == "governance.services.extensions"


@pytest.mark.parametrize("module", [*REQUEST_FLOW, "internal.dispatch"])
def test_each_request_flow_module_imports_alone_in_a_fresh_interpreter(module):
    script = ("import importlib, sys, django; django.setup(); "
              "importlib.import_module(sys.argv[1])")
    result = subprocess.run(
        [sys.executable, "-c", script, f"governance.services.{module}"], cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
