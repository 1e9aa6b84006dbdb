"""The wheel: one import name. inventory/, lab/, remediations/ and playbook.py ship as remediate.* (setup.py)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_installs_nothing_at_top_level_but_remediate(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path)]
    build = subprocess.run([*command, str(ROOT)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("remediate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"remediate", wheel.name.split("-py3")[0] + ".dist-info"}
    for shipped in (
        "remediate/playbook.py",
        "remediate/inventory/__init__.py",
        "remediate/remediations/vss_writers/check.ps1",
        "remediate/remediations/index.json",
        "remediate/lab/linux/shims/tune2fs",
        "remediate/lab/machines/windows-vss-writers-failed.yml",
        "remediate/bootstrap.ps1",
    ):
        assert shipped in names, shipped
