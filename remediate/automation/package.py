"""``remediate automation package DIR``: everything an operator uploads to an Azure Automation account.

Azure Automation's Python 3.10 runtime takes **cp310 Linux wheels** and **resolves no dependencies**: every
package the runbooks import must be imported into the account as its own wheel. So this builds:

- ``DIR/wheels/``: the ``remediate`` wheel (built from this source tree) and a wheel of every dependency, with
  the extras asked for (default ``azure``), downloaded by ``pip download --only-binary=:all:`` for the target
  interpreter and platform (default Python 3.10, ``manylinux2014_x86_64``: the Automation sandbox), so nothing
  there needs a compiler or a resolver on the other side;
- ``DIR/runbooks/``: the runbook files (Python and PowerShell) to import as runbooks;
- ``DIR/packages.txt``: the wheels, one per line, in the order to import them (dependencies first is not
  required by the service, but an operator scripting the upload can follow it).

Needs ``pip`` and access to the package index (or ``--find-links``/``PIP_*`` settings pointing at a mirror).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from remediate.errors import ConfigError

SOURCE_PARTS = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "playbook.py",
    "remediate",
    "remediations",
    "inventory",
    "lab",
)
DEFAULT_PLATFORMS = ("manylinux2014_x86_64",)


def source_root() -> Path:
    """This source tree (the directory with ``pyproject.toml`` above the ``remediate`` package)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise ConfigError(
            f"no pyproject.toml in {root}: the package command builds from a source checkout",
            hint="run it from a clone of the repository (pip install -e .)",
        )
    return root


def _pip(args: Sequence[str], what: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        raise ConfigError(f"{what} failed (pip exit {proc.returncode}):\n{tail}")


def build_wheel(root: Path, out: Path) -> Path:
    """The project's wheel, built from a copy of the source (so no build/ or egg-info lands in the tree)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".lab", "*.egg-info", "build")
    with tempfile.TemporaryDirectory(prefix="remediate-build-") as tmp:
        for part in SOURCE_PARTS:
            src = root / part
            if src.is_dir():
                shutil.copytree(src, Path(tmp) / part, ignore=ignore)
            elif src.is_file():
                shutil.copy2(src, Path(tmp) / part)
        _pip(["wheel", "--no-deps", "--quiet", "-w", str(out), tmp], "building the remediate wheel")
    wheels = sorted(out.glob("remediate-*.whl"))
    if not wheels:
        raise ConfigError(f"building the remediate wheel left no wheel in {out}")
    return wheels[-1]


def package(
    directory: str | Path,
    *,
    extras: Sequence[str] = ("azure", "automation"),
    python_version: str = "3.10",
    platforms: Sequence[str] = DEFAULT_PLATFORMS,
    pip_args: Sequence[str] = (),
) -> list[Path]:
    """Build ``directory`` (see the module docstring); returns the wheels."""
    root = source_root()
    out = Path(directory)
    wheels_dir = out / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)
    ours = build_wheel(root, wheels_dir)
    spec = f"{ours}[{','.join(extras)}]" if extras else str(ours)
    abi = "cp" + python_version.replace(".", "")
    download = ["download", "--only-binary=:all:", "--python-version", python_version, "--implementation", "cp",
                "--abi", abi, "--abi", "abi3", "--abi", "none", "--quiet", "-d", str(wheels_dir)]  # fmt: skip
    for platform in platforms:
        download += ["--platform", platform]
    _pip([*download, *pip_args, spec], f"downloading the wheels for Python {python_version} ({', '.join(platforms)})")
    runbooks = out / "runbooks"
    runbooks.mkdir(exist_ok=True)
    for src in sorted((root / "runbooks").iterdir()):
        if src.suffix in (".py", ".ps1"):
            shutil.copy2(src, runbooks / src.name)
    wheels = sorted(wheels_dir.glob("*.whl"), key=lambda p: (p == ours, p.name.lower()))
    (out / "packages.txt").write_text("".join(w.name + "\n" for w in wheels), encoding="utf-8")
    return wheels
