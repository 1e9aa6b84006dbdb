# Put a file back as it was before a change: copy BACKUP over PATH, or remove PATH when BACKUP is empty
# (the file did not exist before). Arguments: PATH BACKUP.
path=$(b64d "$1")
backup=$(b64d "$2")
if [ -z "$backup" ]; then
    rm -f -- "$path" || exit 1
    emit restored absent
    exit 0
fi
if [ ! -f "$backup" ]; then
    echo "the backup $backup of $path is missing: nothing restored" >&2
    exit 1
fi
cp -p -- "$backup" "$path" || exit 1
emit restored "$backup"
