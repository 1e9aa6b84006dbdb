"""Inventories: every format, ranges, children, precedence, --limit, errors with file:line, masking."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from remediate.inventory import ad_hoc_host, ad_hoc_inventory, detect_format, load_inventory, to_ansible_list
from remediate.inventory.host import MASK, Host

from remediate.errors import ConfigError
from remediate.log import scrub

FIX = Path(__file__).parent / "fixtures" / "inventory"
EXAMPLES = Path(__file__).parent.parent / "inventory" / "examples"


def names(hosts: list[Host]) -> list[str]:
    return [h.name for h in hosts]


# -- native ------------------------------------------------------------------------------------------------------
def test_native_hosts_groups_ranges_and_fields():
    inv = load_inventory(FIX / "native.yml")
    assert inv.format == "native"
    assert names(inv.hosts) == ["win01", "win02", "app01", "app02", "app03", "lin01", "bare"]
    win01 = inv.host("win01")
    assert (win01.address, win01.port, win01.os, win01.transport, win01.user) == (
        "10.1.0.4",
        5986,
        "windows",
        "winrm",
        "azureadmin",
    )
    assert win01.groups == ["prod", "sql", "windows"]
    lin01 = inv.host("lin01")
    assert (lin01.user, lin01.os, lin01.transport) == ("ops", "linux", "ssh")
    assert lin01.vars["ssh_key_file"] == "~/.ssh/id_ed25519"
    assert lin01.vars["become"] is True  # `yes` in YAML
    assert inv.host("bare").groups == ["ungrouped"]
    assert inv.groups["prod"].children == ["windows", "linux"]
    assert inv.groups["linux"].hosts == ["app01", "app02", "app03", "lin01"]


def test_native_precedence_defaults_parent_child_host():
    inv = load_inventory(FIX / "native.yml")
    # defaults < prod (parent) < windows (child) < host
    assert inv.host("bare").vars["tier"] == "base"
    assert inv.host("app01").vars["tier"] == "prod"
    assert inv.host("win02").vars["tier"] == "windows"  # sql is depth 1, windows depth 2 under prod
    assert inv.host("win01").vars["tier"] == "host"
    assert inv.host("win02").vars["winrm_transport"] == "kerberos"
    assert inv.host("win02").vars["owner"] == "dba"
    assert inv.host("win02").vars["password_file"] == "/run/secrets/sql"
    assert inv.host("win01").vars["password_env"] == "REMEDIATE_PASSWORD"


def test_native_inline_password_is_rejected_without_echoing_it():
    with pytest.raises(ConfigError) as err:
        load_inventory(FIX / "broken" / "inline_password.yml")
    text = str(err.value)
    assert "inline_password.yml:4:" in text and "password_env" in text
    assert "hunter2" not in text


def test_native_written_like_the_lab_writes_it(tmp_path):
    """The lab writes flat host settings with connection and credential references."""
    doc = (
        "# remediate lab inventory\n"
        "hosts:\n"
        "  win01: {address: 127.0.0.1, port: 45986, os: windows, connection: winrm, user: labadmin,\n"
        "          winrm_scheme: https, winrm_transport: ntlm, password_file: /tmp/lab/secret,\n"
        "          lab_dir: /tmp/lab/win01, winrm_ca_trust_path: /tmp/lab/ca.pem}\n"
        "  lin01: {address: 127.0.0.1, port: 42222, os: linux, connection: ssh, user: lab,\n"
        "          ssh_key_file: /tmp/lab/id, known_hosts: /tmp/lab/known_hosts, password_file: /tmp/lab/secret}\n"
        "groups:\n"
        "  lab: {children: [windows, linux]}\n"
        "  windows: {hosts: [win01]}\n"
        "  linux: {hosts: [lin01]}\n"
    )
    path = tmp_path / "inventory.yml"
    path.write_text(doc)
    inv = load_inventory(path)
    win = inv.host("win01")
    assert (win.address, win.port, win.connection, win.user) == ("127.0.0.1", 45986, "winrm", "labadmin")
    assert win.groups == ["lab", "windows"]
    assert win.vars["winrm_ca_trust_path"] == "/tmp/lab/ca.pem"
    assert inv.host("lin01").vars["known_hosts"] == "/tmp/lab/known_hosts"


# -- Ansible INI -------------------------------------------------------------------------------------------------
def test_ini_ranges_ports_and_inline_values():
    inv = load_inventory(FIX / "ansible.ini")
    assert inv.format == "ansible-ini"
    assert names(inv.select("web"))[:4] == ["web01", "web06", "web11", "web16"]  # [01:20:5]
    assert names(inv.select("web-*")) == ["web-a", "web-b", "web-c"]
    assert inv.host("web-b").port == 2222
    assert inv.host("web-b").user == "deploy"
    q = inv.host("quoted").vars
    assert q["motd"] == "hello world"
    assert q["code"] == "007"  # "'007'" stays a string
    assert q["num"] == 42 and q["flag"] is True and q["items"] == [1, 2]
    assert inv.host("web01").vars["http_port"] == 8080
    assert inv.host("top").groups == ["ungrouped"]
    assert inv.host("top").address == "192.0.2.10"


def test_ini_connection_mapping_and_os():
    inv = load_inventory(FIX / "ansible.ini")
    win = inv.host("win1")
    assert (win.os, win.connection, win.user, win.address) == ("windows", "winrm", "Administrator", "192.0.2.3")
    assert win.vars["winrm_transport"] == "ntlm"
    assert win.vars["winrm_scheme"] == "https"
    assert win.vars["winrm_server_cert_validation"] == "ignore"
    assert win.vars["winrm_ca_trust_path"] == "/etc/ssl/ca.pem"
    assert "ansible_python_interpreter" not in win.vars
    assert win.vars["ssh_key_file"] == "~/.ssh/id_rsa"
    psrp = inv.host("psrp01")
    assert (psrp.connection, psrp.os, psrp.vars["winrm_transport"]) == ("winrm", "windows", "ntlm")
    winssh = inv.host("winssh")  # ssh + powershell shell: Windows over OpenSSH
    assert (winssh.connection, winssh.os) == ("ssh", "windows")
    web = inv.host("web01")
    assert (web.connection, web.os) == ("ssh", "linux")
    assert web.vars["become"] is True


def test_ini_precedence_all_parent_child_host():
    inv = load_inventory(FIX / "ansible.ini")
    assert inv.host("top").vars["level"] == "all"
    assert inv.host("win1").vars["level"] == "win"  # child [win:vars] over [prod:vars] over [all:vars]
    assert inv.host("web01").vars["level"].startswith("web")


def test_ini_inline_password_read_masked_and_redacted():
    inv = load_inventory(FIX / "ansible.ini")
    win = inv.host("win1")
    assert win.vars["password"] == "S3cr3t-Inline!"  # usable by the credentials module
    assert win.public_vars()["password"] == MASK
    listed = json.dumps(to_ansible_list(inv))
    assert "S3cr3t-Inline!" not in listed
    assert to_ansible_list(inv)["_meta"]["hostvars"]["win1"]["ansible_password"] == MASK
    assert "S3cr3t-Inline!" not in scrub("connecting with S3cr3t-Inline! now")


def test_host_line_split_matches_shlex():
    """The fast host-line splitter gives what shlex.split(line, comments=True) gives, errors included."""
    import random
    import shlex

    from remediate.inventory.ansible import split_host_line

    pieces = ["a", "b", "=", "'", '"', "\\", " ", "#", "x y", "\t", "é", "$("]
    rng = random.Random(7)
    for _ in range(20000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        try:
            expected: object = shlex.split(line, comments=True, posix=True)
        except ValueError:
            expected = "error"
        try:
            got: object = split_host_line(line)
        except ValueError:
            got = "error"
        assert got == expected, line


# -- Ansible YAML ------------------------------------------------------------------------------------------------
def test_ansible_yaml_children_ranges_ports_precedence():
    inv = load_inventory(FIX / "ansible.yml")
    assert inv.format == "ansible-yaml"
    assert names(inv.hosts) == ["loose", "win01", "win02", "win03", "lin01"]
    w1 = inv.host("win01")
    assert (w1.address, w1.port, w1.os, w1.connection) == ("192.0.2.30", 5986, "windows", "winrm")
    assert w1.groups == ["extra", "prod", "windows"]
    assert w1.vars["winrm_transport"] == "kerberos"
    assert w1.vars["level"] == "windows"
    assert inv.host("win03").vars["level"] == "host"
    assert inv.host("lin01").vars["level"] == "prod"
    assert inv.host("lin01").port == 2200
    assert inv.host("lin01").vars["list_var"] == ["a", "b"]
    assert inv.host("loose").groups == ["ungrouped"]
    assert inv.host("loose").public_vars()["password"] == MASK
    assert "yaml-Secret-9" not in json.dumps(to_ansible_list(inv))


# -- az vm list -d -o json ---------------------------------------------------------------------------------------
def test_az_vm_list_hosts_groups_and_addresses():
    inv = load_inventory(FIX / "az_vm_list.json")
    assert inv.format == "az-vm-list"
    real = inv.host("cloud-tp2-terraform")
    assert (real.address, real.os, real.transport, real.user) == ("10.0.1.4", "linux", "ssh", "gustave")
    assert real.vars["azure_public_ips"] == ["68.221.64.221"]  # private preferred
    assert real.vars["azure_power_state"] == "VM running"
    assert set(real.groups) == {"rg_cloud_tp2_terraform_group", "location_spaincentral", "linux"}
    win = inv.host("WIN-SQL01.rg-backup.prod")  # same VM name in two resource groups
    assert (win.address, win.os, win.transport) == ("10.1.0.5", "windows", "winrm")
    assert win.vars["azure_private_ips"] == ["10.1.0.5", "10.1.1.5"]
    assert win.vars["azure_tags"] == {"env": "prod", "owner": "dba"}
    assert "rg_rg_backup_prod" in win.groups  # sanitised: lower case, '-' and '.' -> '_'
    dr = inv.host("WIN-SQL01.rg-dr")
    assert dr.address == "20.10.20.30"  # no private address: the public one
    assert names(inv.select("windows")) == ["WIN-SQL01.rg-backup.prod", "WIN-SQL01.rg-dr"]
    assert names(inv.select("location_japan*")) == ["WIN-SQL01.rg-backup.prod", "WIN-SQL01.rg-dr"]


# -- --limit -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (None, ["win01", "win02", "app01", "app02", "app03", "lin01", "bare"]),
        ("all", ["win01", "win02", "app01", "app02", "app03", "lin01", "bare"]),
        ("win01", ["win01"]),
        ("windows", ["win01", "win02"]),
        ("prod", ["win01", "win02", "app01", "app02", "app03", "lin01"]),
        ("app*", ["app01", "app02", "app03"]),
        ("prod,!linux", ["win01", "win02"]),
        ("prod:!linux", ["win01", "win02"]),
        ("prod,&sql", ["win01", "win02"]),
        ("!windows", ["app01", "app02", "app03", "lin01", "bare"]),
        ("&linux,app0[!3]", ["app01", "app02"]),
        ("linux,!app02,win01", ["win01", "app01", "app03", "lin01"]),
        ("~app0[13]", ["app01", "app03"]),
        ("linux[0]", ["app01"]),
        ("linux[1:2]", ["app02", "app03"]),
        (" windows , lin01 ", ["win01", "win02", "lin01"]),
        ("ungrouped", ["bare"]),
    ],
)
def test_limit_patterns(pattern, expected):
    inv = load_inventory(FIX / "native.yml")
    assert names(inv.select(pattern)) == expected


def test_limit_that_matches_nothing_names_the_patterns():
    inv = load_inventory(FIX / "native.yml")
    with pytest.raises(ConfigError) as err:
        inv.select("windows,wnidows,!nosuch")
    assert "'wnidows'" in str(err.value) and "'!nosuch'" in str(err.value)
    assert "'windows'" not in str(err.value).split("matched")[1]
    with pytest.raises(ConfigError, match="leaves no host"):
        inv.select("windows,&linux")


# -- ad hoc hosts ------------------------------------------------------------------------------------------------
def test_ad_hoc_hosts():
    h = ad_hoc_host("vm1")
    assert (h.name, h.address, h.port, h.os, h.transport) == ("vm1", None, None, None, "ssh")
    w = ad_hoc_host("10.0.0.4:5986", os="windows", winrm_transport="basic", user="admin")
    assert (w.name, w.target, w.port, w.os, w.transport) == ("10.0.0.4", "10.0.0.4", 5986, "windows", "winrm")
    assert w.user == "admin"
    assert w.vars == {"winrm_transport": "basic"}
    assert ad_hoc_host("[::1]:22").name == "::1"
    with pytest.raises(ConfigError, match="port"):
        ad_hoc_host("vm1:99999")
    with pytest.raises(ConfigError, match="os must be one of"):
        ad_hoc_host("vm1", os="solaris")
    inv = ad_hoc_inventory(["vm1", "vm2:2222"], os="linux")
    assert names(inv.select("vm*")) == ["vm1", "vm2"]
    assert to_ansible_list(inv)["ungrouped"]["hosts"] == ["vm1", "vm2"]
    with pytest.raises(ConfigError, match="twice"):
        ad_hoc_inventory(["vm1", "vm1:22"])


# -- errors name the file and the line ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("undefined_child.ini", 6, "'db'"),
        ("bad_quote.ini", 3, "unbalanced quotes"),
        ("not_kv.ini", 2, "not key=value"),
        ("bad_section.ini", 3, "unknown type"),
        ("bad_range.ini", 2, "no end value"),
        ("vars_undefined.ini", 1, "not defined"),
        ("yaml_syntax.yml", 6, "invalid YAML"),
        ("typo.yml", 3, "did you mean 'address'"),
        ("bad_port.yml", 4, "port"),
        ("cycle.yml", 7, "a -> b -> a"),
        ("bad_choice.yml", 3, "winrm_transport must be one of"),
        ("ansible_unknown_key.yml", 4, "'hostz'"),
        ("az_bad.json", 3, "invalid JSON"),
        ("group_secret.yml", 5, "inline ansible_password"),
        ("inline_password.yml", 4, "inline password"),
    ],
)
def test_broken_files_give_one_error_with_file_and_line(name, line, words):
    path = FIX / "broken" / name
    with pytest.raises(ConfigError) as err:
        load_inventory(path)
    text = str(err.value)
    assert f"{path}:{line}:" in text, text
    assert words in text
    for secret in ("hunter2", "nope-secret", "unterminated"):
        assert secret not in text


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_inventory(tmp_path / "nope.yml")
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="empty"):
        load_inventory(empty)


def test_format_detection_by_content():
    assert detect_format("inv", "[web]\nweb01\n") == "ini"
    assert detect_format("inv", "web01 ansible_host=1.2.3.4\n") == "ini"
    assert detect_format("inv", "# c\nall:\n  hosts:\n") == "yaml"
    assert detect_format("inv", "---\nhosts: {}\n") == "yaml"
    assert detect_format("inv", '[\n  {"name": "vm"}\n]\n') == "json"
    assert detect_format("x.json", "") == "json"


# -- hostile names and values are data ---------------------------------------------------------------------------
def test_hostile_host_names_and_values_stay_data(tmp_path):
    hostile = "x'; Remove-Item C:\\ -Recurse #"
    doc = (
        "all:\n"
        "  hosts:\n"
        f'    "$(reboot)":\n'
        f"      note: {json.dumps(hostile)}\n"
        '    "`id`;rm -rf /":\n'
        '      ansible_host: "10.0.0.1; reboot"\n'
        "  children:\n"
        '    "web*":\n'
        "      hosts:\n"
        '        "a|b&c":\n'
    )
    path = tmp_path / "hostile.yml"
    path.write_text(doc)
    inv = load_inventory(path)
    assert names(inv.hosts) == ["$(reboot)", "`id`;rm -rf /", "a|b&c"]
    assert inv.host("a|b&c").groups == ["web*"]
    assert inv.host("$(reboot)").vars["note"] == hostile
    assert inv.host("`id`;rm -rf /").address == "10.0.0.1; reboot"
    listed = to_ansible_list(inv)
    assert listed["_meta"]["hostvars"]["$(reboot)"]["note"] == hostile
    assert names(inv.select("$(reboot)")) == ["$(reboot)"]
    bad = tmp_path / "newline.yml"
    bad.write_text('hosts:\n  "vm1\\nINJECTED": {}\n')
    with pytest.raises(ConfigError, match="control character"):
        load_inventory(bad)


# -- to_ansible_list ---------------------------------------------------------------------------------------------
def test_to_ansible_list_shape_and_masking():
    inv = load_inventory(FIX / "native.yml")
    out = to_ansible_list(inv)
    assert out["all"]["children"][0] == "ungrouped"
    assert set(out["all"]["children"]) == {"ungrouped", "prod", "sql"}
    assert out["prod"] == {"children": ["windows", "linux"]}
    assert out["ungrouped"] == {"hosts": ["bare"]}
    hv = out["_meta"]["hostvars"]["win01"]
    assert hv["ansible_host"] == "10.1.0.4" and hv["ansible_port"] == 5986 and hv["ansible_user"] == "azureadmin"
    assert hv["ansible_winrm_scheme"] == "https"
    assert hv["password_env"] == "REMEDIATE_PASSWORD"  # a reference, not a secret
    assert hv["remediate_os"] == "windows" and hv["remediate_connection"] == "winrm"
    json.dumps(out)  # serialisable as it is


def test_examples_load():
    for name in ("native.yml", "ansible.ini", "ansible.yml", "az-vm-list.json"):
        inv = load_inventory(EXAMPLES / name)
        assert inv.hosts, name


# -- cost per host (timing is in bench/inventory_load.py) --------------------------------------------------------
def _big_inventories(tmp_path: Path, groups: int) -> tuple[Path, Path]:
    """An Ansible INI and a native YAML inventory of ``groups`` * 50 hosts."""
    n = groups * 50
    ini = ["[all:vars]", "ansible_user=admin"]
    for g in range(groups):
        ini.append(f"[g{g}]")
        ini += [f"vm{g}x{i:03d} ansible_host=10.0.{g}.{i} ansible_port=5986 motd='hi there'" for i in range(50)]
        ini += [f"[g{g}:vars]", "ansible_connection=winrm", f"[parent{g % 2}:children]", f"g{g}"]
    ini_path = tmp_path / f"big{n}.ini"
    ini_path.write_text("\n".join(ini) + "\n")
    native = {"hosts": {f"vm{i:03d}": {"address": f"10.1.{i // 250}.{i % 250}", "os": "windows"} for i in range(n)}}
    native["groups"] = {f"g{g}": {"hosts": [f"vm{i:03d}" for i in range(g * 50, g * 50 + 50)]} for g in range(groups)}
    yml_path = tmp_path / f"big{n}.yml"
    yml_path.write_text(json.dumps(native))
    return ini_path, yml_path


def _calls_in_inventory(path: Path) -> int:
    """Python function calls made inside the inventory package while loading ``path``: a count of work."""
    package = str(Path(load_inventory.__code__.co_filename).parent)
    calls = 0

    def profile(frame, event, _arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_filename.startswith(package):
            calls += 1

    sys.setprofile(profile)
    try:
        inv = load_inventory(path)
    finally:
        sys.setprofile(None)
    assert inv.hosts
    return calls


def test_500_host_inventories_cost_linear_work(tmp_path):
    small = _big_inventories(tmp_path, 1)
    large = _big_inventories(tmp_path, 10)
    assert len(load_inventory(large[0]).hosts) == 500
    for few, many in zip(small, large, strict=True):
        load_inventory(few)  # warm imports
        ratio = _calls_in_inventory(many) / _calls_in_inventory(few)
        assert ratio < 12, f"{many.name}: 10x the hosts cost {ratio:.1f}x the calls (quadratic somewhere?)"


# -- the real ansible-inventory, when installed ------------------------------------------------------------------
def _ansible_list(path: Path) -> dict:
    exe = shutil.which("ansible-inventory")
    if exe is None:
        pytest.skip("ansible-inventory is not installed (pip install ansible-core to run this comparison)")
    env = {"ANSIBLE_INVENTORY_ENABLED": "ini,yaml", "ANSIBLE_NOCOLOR": "1", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    env["PATH"] = str(Path(exe).parent) + ":" + env["PATH"]
    proc = subprocess.run([exe, "-i", str(path), "--list"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


REAL = FIX / "real"
REAL_INVENTORIES = sorted(p.name for p in REAL.iterdir() if p.name != "README.md" and "local-hosts" not in p.name)


@pytest.mark.parametrize("name", ["compare.ini", "compare.yml"])
def test_to_ansible_list_matches_ansible_inventory(name):
    _compare(FIX / name)


@pytest.mark.parametrize("name", REAL_INVENTORIES)
def test_real_inventories_match_ansible_inventory(name):
    """Inventories of public projects (tests/fixtures/inventory/real/README.md), as ansible-inventory lists them."""
    _compare(REAL / name)


def test_real_inventory_both_refuse():
    """kubespray's inventory/local/hosts.ini names a child group with no section: Ansible refuses it, so do we."""
    exe = shutil.which("ansible-inventory")
    if exe is None:
        pytest.skip("ansible-inventory is not installed (pip install ansible-core to run this comparison)")
    path = REAL / "kubespray-local-hosts.ini"
    proc = subprocess.run(
        [exe, "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        env={"ANSIBLE_INVENTORY_ENABLED": "ini", "PATH": str(Path(exe).parent) + ":/usr/bin:/bin", "HOME": "/tmp"},
        timeout=120,
    )
    assert "includes undefined group 'calico-rr'" in proc.stderr
    with pytest.raises(ConfigError, match=r"kubespray-local-hosts\.ini:15: .*calico-rr"):
        load_inventory(path)


@pytest.mark.parametrize(
    "text",
    [
        # Hosts before the first section, later placed in a group, are not ungrouped (Ansible's reconcile_inventory).
        "solo\nweb1 x=1\n[web]\nweb1\n[db]\ndb1\n",
        "web1\n[ungrouped]\ndb1\n[web]\nweb1\ndb1\n",
        "[all]\nweb1\nsolo\n[web]\nweb1\n",
    ],
)
def test_ungrouped_as_ansible_reads_ini(tmp_path, text):
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    _compare(path)


@pytest.mark.parametrize(
    "text",
    [
        "all:\n  hosts:\n    web1:\n    solo:\n  children:\n    web:\n      hosts:\n        web1:\n",
        "ungrouped:\n  hosts:\n    web1:\n    solo:\nweb:\n  hosts:\n    web1:\n",
    ],
)
def test_ungrouped_as_ansible_reads_yaml(tmp_path, text):
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    _compare(path)


def _as_we_show(their_vars: dict) -> dict:
    """Ansible's variables as ``inventory --list`` shows them: connection variables under one name
    (``ansible_ssh_host`` as ``ansible_host``), ``ansible_python_interpreter`` dropped, secrets masked."""
    from remediate.inventory.ansible import NATIVE_TO_ANSIBLE, translate
    from remediate.inventory.host import is_secret_var

    out = {}
    for key, value in their_vars.items():
        pair = translate(key, value)
        if pair is None:
            continue
        name = NATIVE_TO_ANSIBLE.get(pair[0], pair[0])
        out[name] = MASK if (is_secret_var(key) or is_secret_var(name)) else pair[1]
    return out


def _compare(path: Path) -> None:
    theirs = _ansible_list(path)
    ours = to_ansible_list(load_inventory(path))
    their_hosts = theirs["_meta"]["hostvars"]  # only hosts that have variables
    our_hosts = ours["_meta"]["hostvars"]
    listed = {h for k, g in theirs.items() if k != "_meta" for h in g.get("hosts", [])}
    assert set(our_hosts) == listed | set(their_hosts)
    for host in our_hosts:
        expected = _as_we_show(their_hosts.get(host, {}))
        mine = {k: v for k, v in our_hosts[host].items() if not k.startswith("remediate_")}
        assert mine == expected, host
    groups = {k for k in theirs if k != "_meta"}
    assert {k for k in ours if k != "_meta"} == groups
    for group in groups:
        for key in ("hosts", "children"):
            assert sorted(ours[group].get(key, [])) == sorted(theirs[group].get(key, [])), (group, key)


def _vars_dir_inventory(tmp_path: Path) -> Path:
    shutil.copy(FIX / "compare.ini", tmp_path / "hosts")
    (tmp_path / "group_vars" / "win").mkdir(parents=True)
    (tmp_path / "group_vars" / "all.yml").write_text("level: all-file\nfrom_all: 1\n")
    (tmp_path / "group_vars" / "prod.yml").write_text("level: prod-file\n")
    (tmp_path / "group_vars" / "win" / "connection.yml").write_text(
        "ansible_winrm_transport: kerberos\nansible_winrm_server_cert_validation: ignore\n"
    )
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "db01.yaml").write_text("level: db01-file\nansible_user: dbadmin\n")
    return tmp_path / "hosts"


def test_group_vars_and_host_vars_beside_an_ansible_inventory(tmp_path):
    inv = load_inventory(_vars_dir_inventory(tmp_path))
    assert inv.host("solo").vars["level"] == "all-file"  # group_vars/all over [all:vars]
    assert inv.host("web01").vars["level"] == "prod-file"  # group_vars/* over the file's [web:vars]
    assert inv.host("web01").vars["from_all"] == 1
    assert inv.host("db01").vars["level"] == "db01-file"  # host_vars over the host line
    assert inv.host("db01").user == "dbadmin"
    assert inv.host("win1").vars["winrm_transport"] == "kerberos"
    assert inv.host("win1").vars["winrm_server_cert_validation"] == "ignore"


def test_vaulted_vars_file_is_a_clear_error(tmp_path):
    hosts = _vars_dir_inventory(tmp_path)
    (tmp_path / "group_vars" / "win" / "vault.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162636465\n")
    with pytest.raises(ConfigError, match="ansible-vault") as err:
        load_inventory(hosts)
    assert "vault.yml" in str(err.value)


def test_vars_dirs_match_ansible_inventory(tmp_path):
    hosts = _vars_dir_inventory(tmp_path)
    theirs = _ansible_list(hosts)["_meta"]["hostvars"]
    ours = to_ansible_list(load_inventory(hosts))["_meta"]["hostvars"]
    for host, their_vars in theirs.items():
        expected = {k: (MASK if k == "ansible_password" else v) for k, v in their_vars.items()}
        assert {k: v for k, v in ours[host].items() if not k.startswith("remediate_")} == expected, host


def test_importing_the_package_stays_light():
    """The lab's command shims run under a bare python3 and import inventory.host: no YAML, no logging."""
    code = (
        "import sys; import remediate.inventory, remediate.inventory.host; "
        "print(sorted({'yaml', 'structlog'} & set(sys.modules)))"
    )
    root = Path(__file__).parent.parent
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- limits and malformed input: one error naming the file and the line, never a traceback --------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[web]\nh[0:999]x[0:999]y[0:99]\n", "expands to more than"),
        ("[web]\nh[0:999]x[0:999]\n", "expands to more than"),
        ("[web]\nh[0:²]\n", "must be numbers"),
        ("[web]\nh[0:1²]\n", "must be numbers"),
        ("[web]\nh[٠:٩]\n", "must be numbers"),  # Arabic-Indic digits
        ("[web]\nh[0:9:²]\n", "step must be"),
        ("[web]\nh[0:" + "9" * 5000 + "]\n", "too large"),
    ],
)
def test_host_ranges_are_capped_and_ascii(tmp_path, text, words):
    path = tmp_path / "hosts.ini"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hosts\.ini:2: ") as err:
        load_inventory(path)
    assert words in str(err.value)


def test_total_host_count_is_capped(tmp_path, monkeypatch):
    import remediate.inventory.model as model

    monkeypatch.setattr(model, "MAX_HOSTS", 1000)
    path = tmp_path / "hosts.ini"
    path.write_text("[a]\nh[0:799]\n[b]\ng[0:799]\n")
    with pytest.raises(ConfigError, match=r"hosts\.ini:4: more than 1000 hosts"):
        load_inventory(path)


@pytest.mark.parametrize(
    "field",
    [
        '"storageProfile": "x"',
        '"storageProfile": {"osDisk": []}',
        '"storageProfile": {"osDisk": {"osType": 5}}',
        '"osProfile": [1]',
        '"osProfile": {"adminUsername": {"a": 1}}',
        '"hardwareProfile": "Standard_B2s"',
        '"privateIps": [{"ip": "10.0.0.4"}]',
        '"publicIps": 7',
        '"resourceGroup": ["rg"]',
        '"id": {"x": 1}',
        '"location": ["westeurope"]',
        '"tags": "a=b"',
        '"powerState": {"code": 1}',
    ],
)
def test_az_json_fields_of_another_type_are_read_as_absent(tmp_path, field):
    path = tmp_path / "vms.json"
    path.write_text('[\n  {"name": "vm1", ' + field + "}\n]\n")
    inv = load_inventory(path)
    assert [h.name for h in inv.hosts] == ["vm1"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[\n  {"name": "vm1"},\n  "vm2"\n]\n', 3),
        ('[\n  {"name": "vm1"},\n  {"name": 5}\n]\n', 3),
        ('[\n  {"name": "vm1"},\n  {"name": "bad\\u0000name"}\n]\n', 3),
    ],
)
def test_az_json_broken_entries_name_the_line(tmp_path, text, line):
    path = tmp_path / "vms.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"vms\.json:{line}: "):
        load_inventory(path)


# -- large inventories: progress and the work per host (counts, never seconds) --------------------------------
def test_a_long_load_reports_progress(tmp_path, monkeypatch):
    import threading

    from remediate import inventory as inv_pkg

    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nweb[001:300]\n")
    told: list[str] = []
    reported = threading.Event()
    real_load = inv_pkg._load

    def slow_load(source):
        result = real_load(source)
        assert reported.wait(30), "no progress was reported"
        return result

    def progress(message: str) -> None:
        told.append(message)
        if "300 hosts so far" in message:
            reported.set()

    monkeypatch.setattr(inv_pkg, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(inv_pkg, "PROGRESS_EVERY", 0.01)
    monkeypatch.setattr(inv_pkg, "_load", slow_load)
    inv = load_inventory(path, progress=progress)
    assert len(inv.hosts) == 300
    assert all(str(path) in m for m in told) and "300 hosts so far" in told[-1]


def test_a_quick_load_reports_nothing(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nweb1\n")
    told: list[str] = []
    load_inventory(path, progress=told.append)
    assert told == []


def test_ini_addresses_are_not_parsed_as_python(tmp_path, monkeypatch):
    import ast

    import remediate.inventory.ansible as ansible_mod

    calls = []
    real = ast.literal_eval
    monkeypatch.setattr(ansible_mod.ast, "literal_eval", lambda text: calls.append(text) or real(text))
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\n" + "".join(f"web{i} ansible_host=10.0.{i // 250}.{i % 250} port=22\n" for i in range(500)))
    assert len(load_inventory(path).hosts) == 500
    assert calls == []


def test_yaml_without_anchors_is_not_walked_for_aliases(tmp_path, monkeypatch):
    import remediate.yamlsafe as yamlsafe

    walked = []
    monkeypatch.setattr(yamlsafe, "check_node", lambda node, *a, **k: walked.append(node))
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n" + "".join(f"    web{i}:\n      ansible_host: 10.0.0.{i}\n" for i in range(50)))
    load_inventory(path)
    assert walked == []
    path.write_text("all:\n  vars: &v {x: 1}\n  children:\n    web:\n      vars: *v\n      hosts: {web1: }\n")
    load_inventory(path)
    assert len(walked) == 1
