# remediate prelude, prepended to every sh script (POSIX sh).
# Arguments arrive as base64 positional parameters, in the order the operation declares them; b64d decodes one.
# emit KEY VALUE writes one structured output line, "#REMEDIATE-KV:KEY:" + base64(VALUE), immune to any
# locale or odd byte in VALUE. A key emitted several times gives a list.
set -u
LC_ALL=C
export LC_ALL
b64d() { printf '%s' "$1" | base64 -d; }
emit() { printf '#REMEDIATE-KV:%s:%s\n' "$1" "$(printf '%s' "$2" | base64 | tr -d '\n')"; }
