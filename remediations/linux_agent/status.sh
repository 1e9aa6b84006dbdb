# The Azure Linux agent: its service (walinuxagent on Debian/Ubuntu, waagent elsewhere), its version, its config.
# Argument: CONF (/etc/waagent.conf). Emits: service "UNIT<TAB>LoadState<TAB>ActiveState<TAB>SubState" per unit,
# version_rc, version (waagent --version), conf (present/absent), conf_text, conf_sha256 (of the file's bytes).
conf=$(b64d "$1")
tab=$(printf '\t')
for unit in walinuxagent waagent; do
    props=$(systemctl show -p LoadState -p ActiveState -p SubState "$unit.service" 2>/dev/null </dev/null)
    load=$(printf '%s\n' "$props" | sed -n 's/^LoadState=//p')
    active=$(printf '%s\n' "$props" | sed -n 's/^ActiveState=//p')
    sub=$(printf '%s\n' "$props" | sed -n 's/^SubState=//p')
    emit service "$unit$tab$load$tab$active$tab$sub"
done
if command -v waagent >/dev/null 2>&1; then
    version=$(waagent --version 2>&1 </dev/null); rc=$?
else
    version="waagent: not found"; rc=127
fi
emit version_rc "$rc"
emit version "$version"
if [ -f "$conf" ]; then
    emit conf present
    emit conf_text "$(cat -- "$conf"; printf x)"
    sum=$(sha256sum < "$conf") && emit conf_sha256 "${sum%% *}"
else
    emit conf absent
fi
