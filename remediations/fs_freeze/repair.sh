# Unmount one file system, repair it (e2fsck -f -y, or xfs_repair), and mount it again with the same options.
# Arguments: DEVICE TARGET FSTYPE OPTIONS. Fails, with the repair tool's words, when it is still not clean.
dev=$(b64d "$1")
target=$(b64d "$2")
fstype=$(b64d "$3")
options=$(b64d "$4")
umount "$target" || { echo "cannot unmount $target: it is in use (see fuser -vm $target)" >&2; exit 1; }
case "$fstype" in
    xfs)
        output=$(xfs_repair "$dev" 2>&1); rc=$?
        ok=0; [ "$rc" -eq 0 ] && ok=1 ;;
    *)
        output=$(e2fsck -f -y "$dev" 2>&1); rc=$?
        # e2fsck: 0 no errors, 1 errors corrected, 2 corrected and a reboot is advised; 4 and up: not fixed
        ok=0; [ "$rc" -le 2 ] && ok=1 ;;
esac
emit repair_rc "$rc"
emit repair_output "$output"
if [ -n "$options" ]; then
    mount -o "$options" "$dev" "$target"; mrc=$?
else
    mount "$dev" "$target"; mrc=$?
fi
if [ "$ok" -ne 1 ]; then
    printf '%s is still not clean after repair (exit %s): %s\n' "$dev" "$rc" "$(printf '%s' "$output" | tail -n 3)" >&2
    exit 1
fi
if [ "$mrc" -ne 0 ]; then
    echo "$dev was repaired but could not be mounted again on $target" >&2
    exit 1
fi
emit repaired "$dev"
