#!/usr/bin/env bash
# docker-compose.yml's `triton` service: tritonserver with every model that can load.
#
# The ONNX variants and cutout always; a TensorRT variant only when convert staged its plan
# (convert removes plans this TensorRT or GPU cannot load, and stages only verified ones),
# so a failed engine build never keeps Triton from serving the rest. Admin APIs need the
# key TRITON_ADMIN_KEY, else a random one per start that nobody knows: over HTTP the header
# is `admin-key`, over gRPC `triton-grpc-protocol-admin-key`. Extra arguments go to
# tritonserver.
set -euo pipefail

repo=${MODEL_REPOSITORY:-/models}
models=${U2NET_MODELS:-u2net u2netp}
key=${TRITON_ADMIN_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
admin="model-repository,shared-memory,trace,logging:admin-key=$key"

load=()
for model in $models; do
    load+=("--load-model=${model}_onnx")
    if [[ -s "$repo/${model}_trt/1/model.plan" ]]; then
        load+=("--load-model=${model}_trt")
    else
        echo "serve: no $repo/${model}_trt/1/model.plan; serving ${model}_onnx alone" >&2
    fi
done

exec tritonserver \
    --model-repository="$repo" \
    --model-control-mode=explicit \
    "${load[@]}" \
    --load-model=cutout \
    --exit-on-error=false \
    --http-restricted-api="$admin" \
    --grpc-restricted-protocol="$admin" \
    "$@"
