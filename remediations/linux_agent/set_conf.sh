# Set Key=value lines in the agent's configuration, keeping every other byte, after a copy is kept.
# Arguments: CONF BACKUP SETTINGS (lines "Key=value"). The first uncommented line of a key is replaced;
# a key without one is appended.
conf=$(b64d "$1")
backup=$(b64d "$2")
settings=$(b64d "$3")
[ -f "$conf" ] || { echo "$conf does not exist" >&2; exit 1; }
cp -p -- "$conf" "$backup" || exit 1
tmp="$conf.remediate-tmp"
cp -p -- "$conf" "$tmp" || exit 1
nl='
'
IFS=$nl
set -f
for setting in $settings; do
    key=${setting%%=*}
    if awk -v k="$key" 'BEGIN{f=1} { s=$0; sub(/^[ \t]+/, "", s); if (index(s, k) == 1) { r=substr(s, length(k)+1); sub(/^[ \t]+/, "", r); if (substr(r,1,1)=="=") f=0 } } END{exit f}' "$tmp"; then
        awk -v k="$key" -v line="$setting" '{ s=$0; sub(/^[ \t]+/, "", s); m=0; if (!d && index(s, k) == 1) { r=substr(s, length(k)+1); sub(/^[ \t]+/, "", r); if (substr(r,1,1)=="=") m=1 } if (m) { print line; d=1 } else print }' "$tmp" > "$tmp.1" || exit 1
        cat -- "$tmp.1" > "$tmp" && rm -f -- "$tmp.1"
    else
        if [ -s "$tmp" ] && [ "$(tail -c 1 -- "$tmp" | od -An -c | tr -d ' ')" != '\n' ]; then printf '\n' >> "$tmp"; fi
        printf '%s\n' "$setting" >> "$tmp"
    fi
done
unset IFS
mv -f -- "$tmp" "$conf" || exit 1
emit backup "$backup"
