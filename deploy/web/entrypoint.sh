#!/bin/sh
# python -m web inside the compose stack. It listens on the container's 0.0.0.0 so that the
# published port reaches it; what is exposed is decided by WEB_BIND (the host address the port
# is published on). Published on the host's loopback (the default): no key needed. Published
# anywhere else: keys are required, from $WEB_KEYS_FILE (one per line), or it does not start.
set -eu
keys="${WEB_KEYS_FILE:-/etc/u2net-web/api-keys.txt}"
bind="${WEB_BIND:-127.0.0.1}"
set -- --host 0.0.0.0 --port 7000 --triton-url "${WEB_TRITON_URL:-triton:8001}" "$@"
if [ -s "$keys" ]; then
    set -- "$@" --api-keys-file "$keys"
elif [ "$bind" = "127.0.0.1" ] || [ "$bind" = "localhost" ]; then
    set -- "$@" --no-auth  # reachable from this host only: the port is published on loopback
else
    echo "error: WEB_BIND=$bind exposes the gateway: put API keys in $keys (one per line)" >&2
    exit 1
fi
exec "${PYTHON:-python}" -m web "$@"
