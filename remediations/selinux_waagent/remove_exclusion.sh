# Undo of exclude.sh: remove the local file-context rule and put the policy's labels back.
# Arguments: PATTERN PATH.
pattern=$(b64d "$1")
path=$(b64d "$2")
semanage fcontext -d "$pattern" || exit 1
restorecon -R -v "$path" || exit 1
emit removed "$pattern"
