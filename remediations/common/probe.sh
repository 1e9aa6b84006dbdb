# Who is this host: name, kernel, distribution, and the caller's value echoed back unchanged.
# $1: any value (base64). remediate ping sends "pong"; the tests send hostile strings and expect them back.
echo_value=$(b64d "${1:-}"; printf x)
echo_value=${echo_value%x}
name=$(hostname 2>/dev/null || uname -n)
emit hostname "$name"
emit kernel "$(uname -r)"
os_id=""
if [ -r /etc/os-release ]; then
    os_id=$(. /etc/os-release && printf '%s' "${ID:-}")
fi
emit os_id "$os_id"
emit echo "$echo_value"
