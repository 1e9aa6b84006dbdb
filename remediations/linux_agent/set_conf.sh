# Edit the agent's configuration in place, after a copy is kept: only the bytes the client names change.
# Arguments: CONF BACKUP SHA256 EDITS. SHA256 is the digest of the file as the client read it: a file changed
# since is left alone (the client reads it again). EDITS are lines "START END TEXT", last in the file first: bytes
# [START, END) become TEXT (printf %b: only its \r and \n escapes are meant).
conf=$(b64d "$1")
backup=$(b64d "$2")
want=$(b64d "$3")
edits=$(b64d "$4")
[ -f "$conf" ] || { echo "$conf does not exist" >&2; exit 1; }
have=$(sha256sum < "$conf") || exit 1
have=${have%% *}
if [ "$have" != "$want" ]; then
    echo "$conf changed since it was read (sha256 $have, read as $want): nothing written" >&2
    exit 1
fi
cp -p -- "$conf" "$backup" || exit 1
tmp="$conf.remediate-tmp"
cp -p -- "$conf" "$tmp" || exit 1
nl='
'
IFS=$nl
set -f
for edit in $edits; do
    start=${edit%% *}
    rest=${edit#* }
    end=${rest%% *}
    text=${rest#* }
    { head -c "$start" -- "$tmp"; printf '%b' "$text"; tail -c "+$((end + 1))" -- "$tmp"; } > "$tmp.1" || exit 1
    cat -- "$tmp.1" > "$tmp" && rm -f -- "$tmp.1"
done
unset IFS
mv -f -- "$tmp" "$conf" || exit 1
emit backup "$backup"
