# Update the agent with the distribution's package manager only (never a download of our own). Argument: UNIT.
unit=$(b64d "$1")
if command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --only-upgrade walinuxagent </dev/null || exit 1
elif command -v dnf >/dev/null 2>&1; then
    dnf -y update WALinuxAgent </dev/null || exit 1
elif command -v yum >/dev/null 2>&1; then
    yum -y update WALinuxAgent </dev/null || exit 1
elif command -v zypper >/dev/null 2>&1; then
    zypper --non-interactive update python-azure-agent </dev/null || exit 1
else
    echo "no known package manager (apt-get, dnf, yum, zypper) on this machine" >&2
    exit 1
fi
systemctl restart "$unit.service" || exit 1
emit version "$(waagent --version 2>&1 </dev/null)"
