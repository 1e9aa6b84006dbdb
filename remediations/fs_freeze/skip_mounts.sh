# Add mount points to MountsToSkip in /etc/azure/vmbackup.conf (comma-separated, no spaces), keeping a copy.
# Arguments: CONF BACKUP MOUNTS (one per line). BACKUP is written before the change when CONF exists.
conf=$(b64d "$1")
backup=$(b64d "$2")
mounts=$(b64d "$3")
if [ -f "$conf" ]; then
    cp -p -- "$conf" "$backup" || exit 1
else
    mkdir -p -- "$(dirname -- "$conf")" || exit 1
    printf '[SnapshotThreshold]\n' > "$conf" || exit 1
fi
current=$(sed -n 's/^[[:space:]]*MountsToSkip[[:space:]]*[=:][[:space:]]*//p' "$conf" | head -n 1 | tr -d ' \r')
list=$current
nl='
'
IFS=$nl
set -f
for m in $mounts; do
    case ",$list," in *",$m,"*) ;; *) list=${list:+$list,}$m ;; esac
done
unset IFS
tmp="$conf.remediate-tmp"
if grep -q '^[[:space:]]*MountsToSkip[[:space:]]*[=:]' "$conf"; then
    awk -v v="$list" 'BEGIN{d=0} /^[[:space:]]*MountsToSkip[[:space:]]*[=:]/ && !d {print "MountsToSkip = " v; d=1; next} {print}' "$conf" > "$tmp"
elif grep -q '^\[SnapshotThreshold\]' "$conf"; then
    awk -v v="$list" '{print} /^\[SnapshotThreshold\]/ && !d {print "MountsToSkip = " v; d=1}' "$conf" > "$tmp"
else
    { cat -- "$conf"; printf '[SnapshotThreshold]\nMountsToSkip = %s\n' "$list"; } > "$tmp"
fi
[ -f "$backup" ] && chmod --reference="$backup" "$tmp" 2>/dev/null
mv -f -- "$tmp" "$conf" || exit 1
emit MountsToSkip "$list"
