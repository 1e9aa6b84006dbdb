"""Property-based tests of the readers of untrusted text: every inventory format, ``diagnose``, the vssadmin
parser and the CLIXML decoder. Whatever the input, they answer or raise the project's own error (one line naming
the file), never another exception. Inputs are bounded in size, and the work is bounded by counts (hosts
expanded, the alias budget), never by the clock: hypothesis' deadline is off.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remediate.inventory import load_inventory, to_ansible_list
from remediate.inventory.model import MAX_HOSTS
from remediate.remediations.vss_writers.parse import parse_vss_writers

from remediate.connection import clixml
from remediate.diagnose import diagnose, render_text, rows, suggest, to_json
from remediate.errors import RemediateError

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Characters that matter to the readers: structure, quotes, ranges, odd digits and controls, Japanese.
TRICKY = "[]{}:=,#;'\"\\-*&!|>%@`\n\t\r \x00\x7f²٠٩ー・COM+ABCxyz0123456789.$/"
text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=400)
lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "[web]",
                "[web:vars]",
                "[web:children]",
                "[all:vars]",
                "[ungrouped]",
                "h[0:3]",
                "h[a:c][1:2]",
                "h[0:²]",
                "h[0:9:0]",
                "web1 ansible_host=10.0.0.1 ansible_port=22",
                "web1:2222 x='1'",
                "db ansible_connection=winrm ansible_password=s3cret",
                "---",
                "all:",
                "  hosts:",
                "    web1:",
                "  children:",
                "  vars: &v {a: 1}",
                "  x: *v",
                "- 1",
            ]
        ),
        text,
    ),
    max_size=25,
)


def _load(name: str, data: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        try:
            inv = load_inventory(path)
        except RemediateError as exc:
            assert str(exc).strip() and "\n" not in str(exc).split(" -- ")[0]
            return
        assert len(inv.hosts) <= MAX_HOSTS
        json.dumps(to_ansible_list(inv), default=str)


@SETTINGS
@given(st.sampled_from(["hosts.ini", "hosts", "hosts.yml", "hosts.json"]), lines)
def test_inventory_from_lines(name, parts):
    _load(name, "\n".join(parts) + "\n")


@SETTINGS
@given(st.sampled_from(["hosts.ini", "hosts.yml", "hosts.json"]), st.binary(max_size=300))
def test_inventory_from_bytes(name, data):
    _load(name, data)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=20,
)
names = st.one_of(st.text(string.ascii_letters + "[]:0123456789-._²", min_size=0, max_size=12), scalars)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "defaults": values,
            "hosts": st.dictionaries(names, values, max_size=5) | values,
            "groups": st.dictionaries(names, values, max_size=5) | values,
        },
    )
)
def test_native_yaml_of_any_shape(data):
    _load("hosts.yml", yaml.safe_dump(data, allow_unicode=True))


@SETTINGS
@given(
    st.dictionaries(
        names,
        st.one_of(
            values,
            st.fixed_dictionaries(
                {},
                optional={
                    "hosts": st.dictionaries(names, values, max_size=4) | values,
                    "children": st.dictionaries(names, values, max_size=3) | values,
                    "vars": values,
                },
            ),
        ),
        max_size=4,
    )
)
def test_ansible_yaml_of_any_shape(data):
    _load("hosts.yml", yaml.safe_dump({"all": {"children": data}}, allow_unicode=True))


vm_fields = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=10), scalars)},
    optional={
        key: values
        for key in (
            "resourceGroup",
            "location",
            "privateIps",
            "publicIps",
            "storageProfile",
            "osProfile",
            "hardwareProfile",
            "tags",
            "id",
            "vmId",
            "powerState",
        )
    },
)


@SETTINGS
@given(st.one_of(st.lists(st.one_of(vm_fields, values), max_size=5), vm_fields, values))
def test_az_json_of_any_shape(data):
    _load("vms.json", json.dumps(data, default=str))


@SETTINGS
@given(st.lists(st.one_of(text, st.sampled_from([m for r in rows() for m in (*r.codes, *r.terms)])), max_size=8))
def test_diagnose_answers_any_text(parts):
    sample = " ".join(parts)
    matches = diagnose(sample)
    assert all(m.row in rows() for m in matches)
    to_json(matches)
    render_text(matches, text=sample)
    suggest(sample)


writer_lines = st.sampled_from(
    [
        "Writer name: 'System Writer'",
        "Nom de l'enregistreur : 'System Writer'",
        "ライター名: 'System Writer'",
        "   Writer Id: {e8132975-6f93-4464-a53e-1050253ae220}",
        "   Writer Instance Id: {7848396d-00b1-47cd-8ba9-769b7ce402d2}",
        "   State: [1] Stable",
        "   State: [8] Failed",
        "   状態: [5] 完了を待機しています",
        "   Last error: No error",
        "   Last error: Timed out (0x800423f2)",
        "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool",
        "C:\\>",
    ]
)


@SETTINGS
@given(st.lists(st.one_of(writer_lines, text), max_size=30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_vssadmin_parser_answers_any_output(parts, newline):
    out = newline.join(parts)
    for writer in parse_vss_writers(out):
        assert writer.writer_id.startswith("{")
    parse_vss_writers(out.encode("utf-8", "surrogatepass"))
    parse_vss_writers(out.encode("cp932", "replace"))


@SETTINGS
@given(st.binary(max_size=400))
def test_vssadmin_parser_answers_any_bytes(data):
    parse_vss_writers(data)


xml_bits = st.sampled_from(
    [
        clixml.MARKER,
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">',
        "</Objs>",
        '<S S="Error">',
        '<S S="warning">',
        "</S>",
        '<Obj S="progress" RefId="0">',
        "</Obj>",
        "_x000D__x000A_",
        "_xD83D__xDE00_",
        "_xD83D_",
        "_x005F_",
        "&lt;&amp;&#0;&#xD800;",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
        "&a;",
    ]
)


@SETTINGS
@given(st.lists(st.one_of(xml_bits, text), max_size=30))
def test_clixml_decoder_answers_any_stderr(parts):
    stderr = "\n".join(parts)
    streams = clixml.parse(stderr)
    assert isinstance(streams.text, str)
    assert isinstance(clixml.readable(stderr), str)
    clixml.unescape(stderr)


@SETTINGS
@given(values)
def test_parameter_validation_answers_any_value(raw):
    from remediate.contract import Param, parse_bool

    for param in (Param("path", "a path"), Param("flag", "a switch", parse=parse_bool)):
        try:
            value = param.convert(raw)
        except RemediateError:
            continue
        assert value is None or isinstance(value, (str, bool))
        if isinstance(value, str):
            assert "\x00" not in value
            value.encode("utf-8")
