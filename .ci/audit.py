"""`make audit`: pip-audit over requirements.lock, saying plainly what it could not check.

pip-audit reports "No known vulnerabilities found" even when its vulnerability service knew
none of the packages (it then skips each one), which reads like a pass. This wrapper counts
what was really audited:

- exit 0: every locked package was checked and none has a known vulnerability;
- exit 1: a package has a known vulnerability (listed, with the fixed versions);
- exit 2: the check could not be made, wholly or partly (the service is unreachable from
  this machine, or does not know some packages): nothing is claimed for those.
"""

import json
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"


def verdict(report: dict) -> tuple[int, list[str]]:
    """(exit status, lines to print) for pip-audit's JSON report."""
    packages = report.get("dependencies", [])
    skipped = [p for p in packages if p.get("skip_reason")]
    vulnerable = [p for p in packages if p.get("vulns")]
    lines = []
    for package in vulnerable:
        for vuln in package["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(f"{package['name']} {package['version']}: {vuln['id']} "
                         f"(fixed in {fixed})")
    audited = len(packages) - len(skipped)
    lines.append(f"make audit: {audited} of {len(packages)} locked packages checked against "
                 f"the vulnerability service, {len(vulnerable)} with known vulnerabilities.")
    if skipped:
        names = ", ".join(p["name"] for p in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        lines.append(f"make audit: could NOT check {len(skipped)} package(s) ({names}{more}): "
                     f"{skipped[0]['skip_reason']}. This is not a pass for them; run it where "
                     "pypi.org is reachable.")
    if vulnerable:
        return 1, lines
    return (2 if skipped or not packages else 0), lines


def main() -> int:
    command = [sys.executable, "-m", "pip_audit", "-r", str(LOCK), "--no-deps",
               "--disable-pip", "--progress-spinner", "off", "--format", "json",
               "--timeout", "20"]
    result = subprocess.run(command, capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        problem = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"make audit: could not check the dependencies: pip-audit failed ({problem}). "
              "Is the vulnerability service (PyPI's JSON API) reachable from here?")
        return 2
    status, lines = verdict(report)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
