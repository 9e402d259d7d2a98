"""The dependency and code checks of `make lint` and `make audit`."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BANDIT = Path(sys.executable).parent / "bandit"


def load_audit():
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_target(name: str) -> str:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{name}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, f"the Makefile has no {name} target"
    return match.group(1)


def test_make_lint_runs_bandit_on_the_code_at_medium_severity():
    assert "bandit -r governance portal -ll" in make_target("lint")


def test_the_code_has_no_unannotated_bandit_finding():
    result = subprocess.run([str(BANDIT), "-r", "governance", "portal", "-ll", "-q"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_bandit_fails_on_a_new_real_finding(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import subprocess\n\n\ndef run(name):\n"
                       "    return subprocess.call('ls ' + name, shell=True)\n")
    result = subprocess.run([str(BANDIT), str(planted), "-ll", "-q"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1 and "B602" in result.stdout


def test_every_nosec_says_which_check_and_why():
    for path in [*(ROOT / "governance").rglob("*.py"), *(ROOT / "portal").rglob("*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "# nosec" in line:
                assert re.search(r"# nosec B\d{3}  # \S", line), f"{path}:{number}: {line.strip()}"


def test_make_audit_runs_the_wrapper_over_the_lock():
    assert ".ci/audit.py" in make_target("audit")
    assert "Django==" in (ROOT / "requirements.lock").read_text()


def test_audit_never_reports_a_pass_for_packages_it_could_not_check():
    audit = load_audit()
    skipped = {"dependencies": [
        {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be "
                                          "audited: django (5.2.20)"},
        {"name": "requests", "version": "2.32.5", "vulns": []}]}
    status, lines = audit.verdict(skipped)
    assert status == 2
    assert "could NOT check 1 package(s) (django)" in lines[-1]
    assert audit.verdict({"dependencies": []})[0] == 2


def test_audit_lists_known_vulnerabilities_and_fails():
    audit = load_audit()
    status, lines = audit.verdict({"dependencies": [
        {"name": "django", "version": "5.2.0", "vulns": [
            {"id": "PYSEC-2025-1", "fix_versions": ["5.2.1"]}]}]})
    assert status == 1
    assert lines[0] == "django 5.2.0: PYSEC-2025-1 (fixed in 5.2.1)"


def test_audit_passes_only_when_every_package_was_checked():
    audit = load_audit()
    status, _lines = audit.verdict({"dependencies": [
        {"name": "django", "version": "5.2.20", "vulns": []}]})
    assert status == 0
