"""``--shard K/N``: the K-th of N disjoint parts of the selected hosts, for any scheduler that runs N workers.

The split depends only on the host names, never on the order the inventories list them in: hosts are sorted by
name and the i-th goes to shard ``i mod N + 1``. So the N shards are disjoint, together they are exactly the
selected hosts, their sizes differ by at most one, and N workers that each read the same inventories (a CI
matrix, Kubernetes indexed Jobs, Azure Automation child jobs) agree on who does what without talking to each
other. A shard may be empty when there are fewer hosts than shards; that is not an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from remediate.errors import ConfigError

if TYPE_CHECKING:
    from remediate.inventory.host import Host

H = TypeVar("H", bound="Host")
_SPEC = re.compile(r"^\s*([0-9]+)\s*/\s*([0-9]+)\s*$")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"2/5"`` -> ``(2, 5)``; K counts from 1. Anything else is a :class:`ConfigError` saying what is expected."""
    m = _SPEC.match(spec or "")
    if not m:
        raise ConfigError(f"--shard {spec!r}: expected K/N, e.g. --shard 1/4", step="inventory")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ConfigError(f"--shard {spec!r}: K must be between 1 and N (N >= 1)", hint="e.g. --shard 1/4")
    return k, n


def shard_index(position: int, count: int) -> int:
    """The shard (1..count) of the host at ``position`` in the name-sorted list."""
    return position % count + 1


def split(hosts: Sequence[H], count: int) -> list[list[H]]:
    """All ``count`` shards at once, in shard order (shard K is ``split(...)[K - 1]``)."""
    if count < 1:
        raise ConfigError(f"cannot split hosts into {count} shards", hint="give at least one shard")
    by_name = {h.name: h for h in hosts}
    return [[by_name[name] for name in names] for names in split_names(list(by_name), count)]


def select_shard(hosts: Sequence[H], k: int, n: int) -> list[H]:
    """Shard ``k`` of ``n``, its hosts in the order they were given."""
    chosen = {h.name for h in split(hosts, n)[k - 1]}
    return [h for h in hosts if h.name in chosen]


def split_names(names: Sequence[str], count: int) -> list[list[str]]:
    """The same split over bare host names (what a parent runbook hands its child jobs)."""
    ordered = sorted(names)
    shards: list[list[str]] = [[] for _ in range(max(count, 1))]
    for i, name in enumerate(ordered):
        shards[shard_index(i, len(shards)) - 1].append(name)
    return shards
