# The state of each file system: tune2fs -l (ext*), xfs_repair -n (xfs), and whether its mount point is in use.
# Commands in the loop read /dev/null, never the list.
# Argument: lines "DEVICE<TAB>TARGET<TAB>FSTYPE". Emits per file system: fs, kind, rc, output, busy.
tab=$(printf '\t')
{ b64d "$1"; echo; } | while IFS="$tab" read -r dev target fstype; do
    [ -n "$dev" ] || continue
    emit fs "$dev"
    case "$fstype" in
        ext2|ext3|ext4)
            emit kind tune2fs
            output=$(tune2fs -l "$dev" 2>&1 </dev/null); rc=$? ;;
        xfs)
            emit kind xfs_repair
            output=$(xfs_repair -n "$dev" 2>&1 </dev/null); rc=$? ;;
        *)
            emit kind none
            output=""; rc=0 ;;
    esac
    emit rc "$rc"
    emit output "$output"
    if [ "$target" = / ]; then
        emit busy 1
    elif command -v fuser >/dev/null 2>&1; then
        if fuser -m "$target" >/dev/null 2>&1 </dev/null; then emit busy 1; else emit busy 0; fi
    else
        emit busy unknown
    fi
done
