"""Parameter values a remote script cannot receive unchanged are refused when parameters are validated."""

from __future__ import annotations

import base64
import subprocess

import pytest
from linux_lab import linux_lab

from remediate.contract import Param, parse_bool
from remediate.errors import ConfigError
from remediate.scripts import SH_PRELUDE, script_text


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("/etc/waagent.conf\x00.bak", "NUL"),
        ("\x00", "NUL"),
        ("/etc/\udcffwaagent.conf", "lone surrogate"),
        ({"path": "/etc"}, "not a dict"),
        (["/etc/a", "/etc/b"], "not a list"),
        (b"/etc/waagent.conf", "not a bytes"),
    ],
)
def test_text_parameter_refuses_what_it_cannot_hold(raw, words):
    with pytest.raises(ConfigError, match=words) as err:
        Param("waagent_conf", "path of the agent's configuration file").convert(raw)
    assert err.value.step == "parameters" and "waagent_conf" in str(err.value)


def test_list_items_cannot_carry_line_breaks_or_nul():
    param = Param("dns_names", "names", parse=lambda raw: tuple(str(raw).split(",")))
    assert param.convert("a.example,b.example") == ("a.example", "b.example")
    with pytest.raises(ConfigError, match="line break"):
        param.convert("a.example\nrm -rf /,b.example")
    with pytest.raises(ConfigError, match="NUL"):
        param.convert("a.example\x00,b")


def test_plain_values_still_pass():
    assert Param("x", "x").convert(5) == "5"
    assert Param("x", "x").convert("C:\\Windows\\Temp\\a b") == "C:\\Windows\\Temp\\a b"
    assert Param("b", "b", parse=parse_bool).convert("yes") is True


def test_the_sh_decoder_would_drop_a_nul():
    """Why NUL is refused: over SSH a value arrives through ``$(b64d ...)``, and a shell variable holds no NUL."""
    script = script_text(SH_PRELUDE) + '\nv=$(b64d "$1")\nprintf "%s" "$v" | od -An -tx1\n'
    token = base64.b64encode(b"/etc/a\x00b").decode()
    out = subprocess.run(["/bin/sh", "-s", "--", token], input=script, capture_output=True, text=True, timeout=30)
    assert "00" not in out.stdout.split()  # the NUL is gone: the script would act on /etc/ab


def test_nul_in_a_parameter_stops_the_run_before_anything_is_sent(tmp_path):
    with linux_lab(tmp_path) as h:
        before = len(h.lab.oplog.entries(h.name))
        with pytest.raises(ConfigError, match="NUL"):
            h.run("linux-agent", assume_yes=True, params={"waagent_conf": f"{h.root}/etc/waagent.conf\x00x"})
        assert len(h.lab.oplog.entries(h.name)) == before
