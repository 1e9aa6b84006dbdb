"""The JSON schema of everything ``--output json`` prints, versioned and shipped with the package.

``output-v1.schema.json`` describes, under ``$defs``: ``report`` (a run, a dry-run, ``undo`` and ``ping``),
``remediations`` (``list``), ``remediation`` (``show``), ``diagnosis`` (``diagnose``), ``codes``
(``diagnose --codes``) and ``inventory`` (``inventory --list`` and ``inventory -o json``). The document itself
accepts any of them. Within v1, fields may be added but none removed or changed in meaning; a change that
breaks a reader makes v2.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VERSION = 1
PATH = Path(__file__).with_name(f"output-v{VERSION}.schema.json")


@cache
def load() -> dict[str, Any]:
    """The schema as a dict."""
    return json.loads(PATH.read_text(encoding="utf-8"))


def for_kind(kind: str) -> dict[str, Any]:
    """A schema for one kind of output (``report``, ``remediations``, ``remediation``, ``diagnosis``,
    ``inventory``) that still resolves the shared definitions."""
    schema = load()
    if kind not in schema["$defs"]:
        raise KeyError(f"no output kind {kind!r}; known: {', '.join(sorted(schema['$defs']))}")
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}
