# The mounted file systems (findmnt, raw: spaces escaped as \x20) and /etc/azure/vmbackup.conf.
# Arguments: VMBACKUP_CONF.
conf=$(b64d "$1")
out=$(findmnt -rn -o SOURCE,TARGET,FSTYPE,OPTIONS) || { echo "findmnt failed: $out" >&2; exit 1; }
printf '%s\n' "$out" | while IFS= read -r line; do
    [ -n "$line" ] && emit mount "$line"
done
if [ -f "$conf" ]; then
    emit conf present
    emit conf_text "$(cat -- "$conf"; printf x)"
else
    emit conf absent
fi
