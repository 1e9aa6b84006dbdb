"""YAML alias bombs are refused by every reader of YAML: inventories, --params-file, lab state and machine files."""

from __future__ import annotations

import pytest
import yaml

from remediate.yamlsafe import MAX_ALIAS_NODES, AliasBudgetError, check_node, load


def bomb(levels: int = 30, width: int = 2) -> str:
    """The "billion laughs": each level lists the previous one ``width`` times (width**levels leaves)."""
    lines = ["l0: &l0 [x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * width)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_bomb_is_refused_before_anything_is_built():
    with pytest.raises(AliasBudgetError, match="alias") as err:
        load(bomb())
    assert err.value.line is not None


def test_ordinary_aliases_are_fine():
    text = "common: &c {user: admin, port: 22}\n" + "".join(f"g{i}: {{vars: *c}}\n" for i in range(200))
    data = load(text)
    assert data["g199"]["vars"] == {"user": "admin", "port": 22}


def test_budget_counts_expanded_nodes():
    node = yaml.compose(bomb(levels=12))  # 2**13 leaves: under the budget
    check_node(node)
    with pytest.raises(AliasBudgetError):
        check_node(node, max_alias_nodes=1000)
    assert MAX_ALIAS_NODES > 2**13


def test_self_reference_and_depth_are_refused():
    with pytest.raises(AliasBudgetError, match="contains it"):
        load("a: &a [1, *a]\n")
    with pytest.raises(AliasBudgetError, match="deeper"):
        load("[" * 500 + "]" * 500)


def test_inventory_bomb_is_one_error_with_file_and_line(tmp_path):
    from remediate.inventory import load_inventory

    from remediate.errors import ConfigError

    path = tmp_path / "bomb.yml"
    path.write_text("all:\n  vars:\n" + "".join("    " + line + "\n" for line in bomb().splitlines()))
    with pytest.raises(ConfigError, match=r"bomb\.yml:\d+: YAML aliases expand"):
        load_inventory(path)


def test_params_file_bomb_is_a_usage_error(tmp_path, capsys):
    from remediate.cli import main

    path = tmp_path / "params.yml"
    path.write_text(bomb())
    assert main(["--host", "vm1", "vss-copy-backup", "--params-file", str(path), "--dry-run"]) == 1
    assert "alias" in capsys.readouterr().err


def test_lab_machine_file_bomb_is_refused(tmp_path):
    from remediate.lab import load_yaml

    path = tmp_path / "machine.yml"
    path.write_text(bomb())
    with pytest.raises(AliasBudgetError):
        load_yaml(path)


def test_deep_flow_nesting_is_refused_not_a_crash(tmp_path):
    """libyaml composes nested collections recursively: 50,000 '[' used to kill the process (SIGSEGV)."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "deep.yml"
    path.write_text("all:\n  vars:\n    x: " + "[" * 50_000 + "]" * 50_000 + "\n")
    code = f"from remediate.inventory import load_inventory\nload_inventory({str(path)!r})"
    root = Path(__file__).parent.parent
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert proc.returncode == 1 and "nested deeper than" in proc.stderr, (proc.returncode, proc.stderr[-500:])
