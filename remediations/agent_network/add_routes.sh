# Add or replace routes: ip route replace PREFIX via NEXT_HOP, for each prefix. Arguments: PREFIXES (lines) NEXT_HOP.
prefixes=$(b64d "$1")
hop=$(b64d "$2")
nl='
'
IFS=$nl
set -f
for prefix in $prefixes; do
    [ -n "$prefix" ] || continue
    ip route replace "$prefix" via "$hop" </dev/null || exit 1
    emit route "$prefix via $hop"
done
