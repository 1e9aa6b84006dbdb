# Undo of add_routes.sh. Argument: lines "PREFIX<TAB>NEXT_HOP_ADDED<TAB>PREVIOUS_NEXT_HOP" (empty: there was none).
tab=$(printf '\t')
{ b64d "$1"; echo; } | while IFS="$tab" read -r prefix added previous; do
    [ -n "$prefix" ] || continue
    if [ -n "$previous" ]; then
        ip route replace "$prefix" via "$previous" </dev/null || exit 1
    else
        ip route del "$prefix" via "$added" </dev/null || exit 1
    fi
    emit restored "$prefix"
done
