# Label the agent's directory so that extensions run from it: a local file-context rule, then restorecon.
# Arguments: PATTERN TYPE PATH.
pattern=$(b64d "$1")
type=$(b64d "$2")
path=$(b64d "$3")
if semanage fcontext -l -C </dev/null | grep -q -F -- "$pattern "; then
    semanage fcontext -m -t "$type" "$pattern" || exit 1
else
    semanage fcontext -a -t "$type" "$pattern" || exit 1
fi
restorecon -R -v "$path" || exit 1
emit rule "$pattern $type"
