# Restart the agent's service and report its state. Argument: UNIT. Fails with systemctl's words.
unit=$(b64d "$1")
systemctl restart "$unit.service" || exit 1
emit active "$(systemctl is-active "$unit.service" 2>/dev/null)"
