"""``remediate automation package DIR``: its wheels install offline into a fresh venv and the runbooks import.

The one test that reaches the package index (pip download; pip's own cache makes a second run cheap). The venv
uses a Python 3.10 interpreter when this machine has one (the Automation runtime's version); otherwise the
package is built for the running interpreter's version, which proves the same thing: nothing is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from remediate import cli


def _python310() -> str | None:
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    for python in [*reversed(candidates), shutil.which("python3.10")]:
        if python and subprocess.run([python, "-c", "pass"], capture_output=True).returncode == 0:
            return python
    return None


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH, no machine pip settings: only what the package holds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "REMEDIATE_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@pytest.mark.timeout(900)
def test_package_installs_offline_and_the_runbooks_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    python = _python310() or sys.executable
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    out = tmp_path / "pkg"
    code = cli.main(["automation", "package", str(out), "--python-version", version])
    assert code == cli.EXIT_OK, capsys.readouterr().err
    wheels = sorted(p.name for p in (out / "wheels").glob("*.whl"))
    listed = (out / "packages.txt").read_text().split()
    assert sorted(listed) == wheels and listed[-1].startswith("remediate-")
    assert not [w for w in wheels if not w.endswith(".whl")]
    tag = "cp" + version.replace(".", "")
    binary = [w for w in wheels if not w.endswith("-none-any.whl")]
    assert binary and all((f"-{tag}-" in w or "-abi3-" in w) and "x86_64" in w for w in binary), binary
    assert {p.name for p in (out / "runbooks").iterdir()} >= {"remediate_backup_failures.py", "remediate_sharded.py"}

    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=_clean_env())
    vpy = str(venv / "bin" / "python")
    install = subprocess.run(
        [vpy, "-m", "pip", "install", "--no-index", "--find-links", str(out / "wheels"), "-q",
         "remediate[azure,automation]"],
        capture_output=True, text=True, env=_clean_env(), cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    imports = ("import azure.mgmt.automation, azure.identity, winrm, fabric, yaml, structlog, tenacity;"
               "import remediate.playbook, remediate.inventory, remediate.remediations;"
               "import remediate.automation.entry as e;"
               "import remediate.automation.children, remediate.automation.azureflows, remediate.azure.loop;"
               "import azure.mgmt.compute, azure.mgmt.recoveryservicesbackup, remediate.inventory.azure_live;"
               "print(e.__file__)")  # fmt: skip
    proc = subprocess.run([vpy, "-c", imports], capture_output=True, text=True, env=_clean_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert str(venv) in proc.stdout  # the venv's copy, not this checkout
    for runbook in sorted((out / "runbooks").glob("*.py")):
        proc = subprocess.run([vpy, str(runbook), "--help"], capture_output=True, text=True, env=_clean_env(),
                              cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0 and "usage:" in proc.stdout, (runbook.name, proc.stderr)
