"""Every documented fix, one sub-package each, with its remote scripts beside it.

A remediation is a :class:`remediate.contract.Remediation` subclass; :func:`registry` finds them all.
To add one, copy a folder (``vss_copy_backup`` is the smallest), change its slug, scripts and docstring.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remediate.contract import Remediation


@cache
def registry() -> dict[str, type[Remediation]]:
    """Every remediation class by slug, in catalog order where one is given."""
    from remediate.contract import Remediation

    found: dict[str, type[Remediation]] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg or info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Remediation)
                and value.__module__ == module.__name__
                and getattr(value, "slug", None)
            ):
                found[value.slug] = value
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


INDEX = "index.json"


def index() -> list[dict[str, Any]]:
    """What ``remediate list`` shows, without importing every remediation: ``describe()`` of each class, in
    catalog order, as written to ``index.json`` by :func:`write_index` (a test keeps the file equal to the
    classes)."""
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / INDEX).read_text(encoding="utf-8"))


def write_index() -> None:
    """Rewrite ``index.json`` from the classes (after adding or changing a remediation)."""
    import json
    from pathlib import Path

    rows = [{**cls.describe(), "module": cls.__module__} for cls in registry().values()]
    text = json.dumps(rows, indent=1, ensure_ascii=False, default=str) + "\n"
    (Path(__file__).parent / INDEX).write_text(text, encoding="utf-8")


def get(slug: str) -> type[Remediation]:
    """The remediation class of a slug, importing only its own module (the index says which)."""
    from remediate.errors import ConfigError

    module = next((row.get("module") for row in index() if row["slug"] == slug), None)
    if module:
        for value in vars(importlib.import_module(str(module))).values():
            if isinstance(value, type) and getattr(value, "slug", None) == slug and value.__module__ == module:
                return value
    try:
        return registry()[slug]
    except KeyError:
        known = ", ".join(row["slug"] for row in index())
        raise ConfigError(f"unknown remediation {slug!r}", hint=f"known remediations: {known}") from None
