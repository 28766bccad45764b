#!/usr/bin/env bash
# Cut one photo with nothing but curl, through Triton's HTTP endpoint and the `cutout` model
# (KServe v2 protocol, binary-data extension). Usage:
#   examples/cutout_curl.sh photo.jpg out.png [http://127.0.0.1:8000] [u2net]
# A BYTES element travels as a 4-byte little-endian length followed by the bytes; the JSON
# header's length goes in the Inference-Header-Content-Length header, both ways.
set -euo pipefail
photo=$1 out=$2 base=${3:-http://127.0.0.1:8000} model=${4:-u2net}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
size=$(stat -c %s "$photo")
header='{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES",'
header+='"parameters":{"binary_data_size":'$((size + 4))'}}],'
header+='"outputs":[{"name":"result_bytes","parameters":{"binary_data":true}},'
header+='{"name":"result_size"},{"name":"foreground_box"}],'
header+='"parameters":{"model":"'$model'"}}'
{
  printf '%s' "$header"
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((size & 255)) $(((size >> 8) & 255)) \
    $(((size >> 16) & 255)) $(((size >> 24) & 255)))"
  cat "$photo"
} > "$tmp/request"
status=$(curl -sS -o "$tmp/response" -D "$tmp/headers" -w '%{http_code}' \
  -H "Inference-Header-Content-Length: ${#header}" \
  -H 'Content-Type: application/octet-stream' \
  --data-binary @"$tmp/request" "$base/v2/models/cutout/infer")
if [ "$status" != 200 ]; then
  echo "error: HTTP $status: $(cat "$tmp/response")" >&2
  exit 1
fi
json_length=$(grep -i '^inference-header-content-length:' "$tmp/headers" | tr -dc '0-9')
head -c "$json_length" "$tmp/response" >&2; echo >&2  # size and box, as JSON
# the binary part: 4 length bytes, then the encoded result
tail -c +$((json_length + 5)) "$tmp/response" > "$out"
