#!/usr/bin/env bash
# Triton for docker-compose.yml's `triton` service and the Kubernetes Deployment
# (deploy/k8s/): tritonserver with every model that can load.
#
# The ONNX variants and cutout always; a TensorRT variant only when convert staged its plan
# (convert removes plans this TensorRT or GPU cannot load, and stages only verified ones),
# so a failed engine build never keeps Triton from serving the rest. The models: the
# catalogue's in U2NET_MODELS (default u2net,u2netp; e.g. u2net,u2netp,isnet-general-use)
# and the custom ones in U2NET_CUSTOM_MODELS (staged with `python -m convert custom`),
# separated by commas or spaces.
#
# No secret on the command line by default: the admin APIs (model repository, shared memory,
# trace, logging) are restricted to a header whose required value holds a line break, which
# no HTTP or gRPC client can send (the same as `python -m server`, server/command.py). With
# TRITON_ADMIN_KEY set, the model-repository API opens to that key (header `admin-key` over
# HTTP, `triton-grpc-protocol-admin-key` over gRPC); Triton only takes it on its command
# line, where `ps` inside the container shows it. Extra arguments go to tritonserver.
set -euo pipefail

# glibc's allocator settings of `python -m server` (server/distribution.py, ALLOCATOR_ENV:
# 1 MB mmap threshold, 2 arenas, 4 MB of free heap kept), unless the environment sets its
# own. Measured with the embedded server (docs/measurements.md), not in this container.
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-1048576}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-4194304}

repo=${MODEL_REPOSITORY:-/models}
models="${U2NET_MODELS:-u2net,u2netp},${U2NET_CUSTOM_MODELS:-}"
off=$'u2net-disabled=no\nclient can send this'

if [[ -n "${TRITON_ADMIN_KEY:-}" ]]; then
    restricted=("model-repository:admin-key=$TRITON_ADMIN_KEY" "shared-memory,trace,logging:$off")
else
    restricted=("model-repository,shared-memory,trace,logging:$off")
fi
restrictions=()
for group in "${restricted[@]}"; do
    restrictions+=("--http-restricted-api=$group" "--grpc-restricted-protocol=$group")
done

load=()
for model in ${models//,/ }; do
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
    "${restrictions[@]}" \
    "$@"
