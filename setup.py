"""Packaging: the design card's top-level folders are shipped under the one import name ``remediate``.

``inventory/``, ``lab/`` and ``remediations/`` become ``remediate.inventory``, ``remediate.lab`` and
``remediate.remediations`` (setuptools ``package_dir``); ``playbook.py`` becomes ``remediate/playbook.py`` in the
built wheel. Nothing is installed as a top-level module of site-packages but ``remediate``.
"""

import os

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

FOLDERS = ("inventory", "lab", "remediations")


packages = find_namespace_packages(include=["remediate", "remediate.*"])
package_dir = {"remediate": "remediate"}
for folder in FOLDERS:
    for pkg in find_namespace_packages(include=[folder, f"{folder}.*"]):
        packages.append(f"remediate.{pkg}")
        package_dir[f"remediate.{pkg}"] = pkg.replace(".", "/")


class BuildPy(build_py):
    """Copies the top-level ``playbook.py`` into the package as ``remediate/playbook.py``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install imports remediate.playbook from the checkout (see remediate/__init__.py)
        target = os.path.join(self.build_lib, "remediate", "playbook.py")
        self.mkpath(os.path.dirname(target))
        self.copy_file("playbook.py", target)


setup(packages=packages, package_dir=package_dir, cmdclass={"build_py": BuildPy})
