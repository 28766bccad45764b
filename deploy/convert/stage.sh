#!/usr/bin/env bash
# Fill a Triton model repository: run by deploy/convert/run.sh (compose, from the checkout)
# and by the Kubernetes init container (deploy/convert/Dockerfile, deploy/k8s/).
#
# 1. With U2NET_REPOSITORY_TEMPLATE, copy the committed configs and `cutout` from it first.
# 2. Stage the ONNX serving graphs: this must work, Triton has nothing to serve without them.
# 3. Unless U2NET_BUILD_ENGINES=0, build each TensorRT engine: this may fail. fp16 falls
#    back to fp32, and a model left without a plan is served as <model>_onnx alone
#    (deploy/triton/serve.sh). Each engine's profile is its model's size (320² for U²-Net,
#    1024² for IS-Net) and its opt batch its family's (convert/trt/profile.py).
#
# U2NET_TRT_MODELS: the catalogue's models to stage and build (default u2net,u2netp; e.g.
# u2net,u2netp,isnet-general-use). U2NET_CUSTOM_MODELS: custom models already staged in the
# repository (`python -m convert custom`), engines only.
set -euo pipefail

repo=${U2NET_MODEL_REPOSITORY:?set U2NET_MODEL_REPOSITORY to the repository to fill}
models=${U2NET_TRT_MODELS:-u2net,u2netp}
custom=${U2NET_CUSTOM_MODELS:-}
precision=${TRT_PRECISION:-fp16}
engines=${U2NET_BUILD_ENGINES:-1}
template=${U2NET_REPOSITORY_TEMPLATE:-}

if [[ -n "$template" ]]; then
    mkdir -p "$repo"
    cp -R "$template"/. "$repo"/
fi

python3 -m convert --model-repository "$repo" --models "$models"

if [[ "$engines" == 0 ]]; then
    echo "convert: U2NET_BUILD_ENGINES=0: no TensorRT engines, triton serves the ONNX variants" >&2
    exit 0
fi
for model in ${models//,/ } ${custom//,/ }; do
    if ! python3 -m convert trt --model-repository "$repo" --models "$model" \
        --precision "$precision" --fallback-fp32; then
        echo "convert: no TensorRT engine for $model; triton serves ${model}_onnx alone" >&2
    fi
done
