# fs-freeze's whole check in one command: the mounted file systems (findmnt, raw: blanks escaped as \x20),
# /etc/azure/vmbackup.conf, and the state of each file system the backup would freeze: tune2fs -l (ext*),
# xfs_repair -n (xfs), and whether its mount point is in use. Commands in the loop read /dev/null, never the list.
# Arguments: VMBACKUP_CONF; FROZEN (file system types, one a line); RESOURCE (targets never frozen, one a line).
# Emits: mount (each raw line), conf / conf_text; per inspected file system: line (its raw mount line), kind, rc,
# output, busy. MountsToSkip is applied by the caller, which reads conf_text.
conf=$(b64d "$1")
frozen=$(b64d "$2")
resource=$(b64d "$3")
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
unescape() { printf '%s' "$1" | sed 's/\\x20/ /g; s/\\x09/\t/g; s/\\x5c/\\/g'; }
printf '%s\n' "$out" | while IFS= read -r line; do
    set -f
    set -- $line
    set +f
    [ "$#" -ge 3 ] || continue
    dev=$(unescape "$1"); target=$(unescape "$2"); fstype=$3
    printf '%s\n' "$frozen" | grep -qxF -- "$fstype" || continue
    case "$dev" in /dev/loop*) continue ;; esac
    printf '%s\n' "$resource" | grep -qxF -- "$target" && continue
    emit line "$line"
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
