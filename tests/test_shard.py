"""``--shard K/N``: disjoint, complete, balanced, independent of the order the hosts are listed in."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

import pytest
from remediate.inventory import ad_hoc_host
from remediate.inventory.shard import parse_shard, select_shard, split, split_names

from remediate import cli
from remediate.errors import ConfigError


def _hosts(n: int) -> list:
    return [ad_hoc_host(f"vm{i:03d}") for i in range(n)]


@pytest.mark.parametrize(("count", "shards"), [(200, 7), (10, 3), (3, 5), (1, 1), (0, 4)])
def test_shards_are_disjoint_complete_and_balanced(count: int, shards: int) -> None:
    hosts = _hosts(count)
    parts = split(hosts, shards)
    names = [h.name for part in parts for h in part]
    assert len(parts) == shards
    assert sorted(names) == sorted(h.name for h in hosts)  # none lost, none twice
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    for k in range(1, shards + 1):
        assert [h.name for h in select_shard(hosts, k, shards)] == sorted(h.name for h in parts[k - 1])


def test_the_split_does_not_depend_on_host_order() -> None:
    hosts = _hosts(50)
    shuffled = list(hosts)
    random.Random(7).shuffle(shuffled)
    for k in range(1, 5):
        a = {h.name for h in select_shard(hosts, k, 4)}
        b = {h.name for h in select_shard(shuffled, k, 4)}
        assert a == b
    assert split_names([h.name for h in shuffled], 4) == [[h.name for h in p] for p in split(hosts, 4)]


def test_select_keeps_the_given_order() -> None:
    hosts = list(reversed(_hosts(9)))
    assert [h.name for h in select_shard(hosts, 1, 3)] == ["vm006", "vm003", "vm000"]


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "", "-1/2"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(spec)


def test_parse() -> None:
    assert parse_shard("2/5") == (2, 5)
    assert parse_shard(" 1 / 1 ") == (1, 1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_shards_cover_the_inventory_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three CLI runs with --shard 1/3, 2/3, 3/3 together touch every host exactly once."""
    port = _closed_port()
    names = [f"node{i}" for i in (5, 1, 9, 3, 7, 2, 8)]
    inv = tmp_path / "hosts.yml"
    lines = ["hosts:"] + [f"  {n}:\n    address: 127.0.0.1\n    port: {port}\n    os: linux" for n in names]
    inv.write_text("\n".join(lines) + "\n")
    seen: list[str] = []
    for k in (1, 2, 3):
        code = cli.main(["ping", "-i", str(inv), "--shard", f"{k}/3", "--retries", "1", "-o", "json"])
        assert code == cli.EXIT_UNREACHABLE
        seen += [h["host"] for h in json.loads(capsys.readouterr().out)["hosts"]]
    assert sorted(seen) == sorted(names)
    assert cli.main(["ping", "-i", str(inv), "--shard", "4/3"]) == cli.EXIT_ERROR
    assert "--shard" in capsys.readouterr().err
