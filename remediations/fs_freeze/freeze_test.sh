# Freeze and at once thaw each mount point, as the backup does. A trap thaws on every exit, error or signal.
# Argument: mount points, one per line. Emits per mount point: target, result ("ok" or the error).
current=""
thaw() { if [ -n "$current" ]; then fsfreeze -u "$current" 2>/dev/null; current=""; fi; }
trap 'thaw' EXIT
trap 'thaw; exit 1' HUP INT TERM
targets=$(b64d "$1")
nl='
'
IFS=$nl
set -f
for target in $targets; do
    [ -n "$target" ] || continue
    emit target "$target"
    current=$target
    if msg=$(fsfreeze -f "$target" 2>&1); then
        if msg=$(fsfreeze -u "$target" 2>&1); then
            current=""
            emit result ok
        else
            emit result "thaw failed: $msg"
        fi
    else
        current=""
        emit result "freeze failed: $msg"
    fi
    thaw
done
