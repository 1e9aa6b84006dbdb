# SELinux mode, the local file-context rules for the agent's directory, and what restorecon would relabel.
# Arguments: PATH PATTERN. Emits: mode ("absent" without SELinux tools), rule (matching local rules),
# relabel (restorecon -n -v lines).
path=$(b64d "$1")
pattern=$(b64d "$2")
mode=$(getenforce 2>/dev/null </dev/null); rc=$?
if [ "$rc" -ne 0 ] || [ -z "$mode" ]; then
    emit mode absent
    exit 0
fi
emit mode "$mode"
[ "$mode" = Enforcing ] || exit 0
rules=$(semanage fcontext -l -C 2>&1 </dev/null) || { echo "semanage fcontext -l -C failed: $rules" >&2; exit 1; }
printf '%s\n' "$rules" | while IFS= read -r line; do
    case "$line" in "$pattern "*) emit rule "$line" ;; esac
done
relabel=$(restorecon -n -R -v "$path" 2>&1 </dev/null)
printf '%s\n' "$relabel" | while IFS= read -r line; do
    [ -n "$line" ] && emit relabel "$line"
done
exit 0
