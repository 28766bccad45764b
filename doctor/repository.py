"""Check 3, the model repository: what is staged, whether each config parses and agrees with
the contract and the staged files, and whether each TensorRT plan was built for the TensorRT
of the pinned NGC release and for this host's GPU.

Plan manifests are read with :mod:`u2net.repository.manifests`, whose format
``python -m convert trt`` writes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.text_format import ParseError
from tritonclient.grpc import model_config_pb2

from doctor.check import Check, Deployment, fail, na, ok
from u2net.catalogue import (
    INT8_SUFFIX,
    MODEL_NAMES,
    ONNX_SUFFIX,
    TRT_SUFFIX,
    base_name,
    contract_of,
)
from u2net.contract import (
    CONTRACT,
    CUTOUT,
    FAMILY_CONTRACTS,
    ServingContract,
    Tensor,
    config_tensors,
)
from u2net.deployment import (
    NGC_RELEASE,
    NGC_TENSORRT_VERSION,
    RELEASE_ENV,
    TRITON_IMAGE,
    release_in_use,
    tensorrt_in_use,
)
from u2net.repository.files import md5_of
from u2net.repository.layout import (
    CONFIG_FILE,
    CUSTOM_CONFIGS_DIR,
    ONNX_FILE,
    PLAN_FILE,
    PYTHON_FILE,
    model_filename,
    read_config,
)
from u2net.repository.layout import staged_paths as _staged_paths
from u2net.repository.manifests import (
    PlanFacts,
    parse_plan_manifest,
    plan_max_batch,
    read_manifest,
    staged_md5,
)

logger = logging.getLogger(__name__)

CONVERT = "python -m convert"
CONVERT_TRT = "python -m convert trt"
CPU_SUFFIXES = (ONNX_SUFFIX, INT8_SUFFIX)  # what the embedded CPU server runs


@dataclass(frozen=True)
class StagedModel:
    """One model folder: its parsed config (or why not) and its staged file and manifest."""

    name: str
    config: Any | None
    config_error: str | None
    filename: str
    staged: bool
    manifest: Mapping[str, Any] | None
    md5: str | None  # of the staged file, when its manifest names one to compare
    # configs/<name>.pbtxt: the parsed config, or why it does not parse
    custom_configs: Mapping[str, Any] = field(default_factory=dict)


def same_tensorrt(a: str, b: str) -> bool:
    """Plans load only in the TensorRT release they were built with (major.minor.patch)."""
    return a.split(".")[:3] == b.split(".")[:3]


def plan_problems(
    facts: PlanFacts, host_capabilities: Sequence[str], pinned: str | None = NGC_TENSORRT_VERSION
) -> list[str]:
    """Why the plan will not load where it is meant to run, or []; ``pinned`` None: the
    serving TensorRT is not known (another NGC release), so only the GPU is compared."""
    problems = []
    if pinned is not None and not same_tensorrt(facts.tensorrt_version, pinned):
        problems.append(f"{TRITON_IMAGE} runs TensorRT {pinned}")
    if host_capabilities and facts.compute_capability not in host_capabilities:
        here = ", ".join(sorted({"sm_" + c.replace(".", "") for c in host_capabilities}))
        problems.append(f"this host has {here}")
    return problems


def _expected_tensors(name: str, contract: ServingContract) -> dict[str, list[Tensor]]:
    """What a model's config must declare (name, config data type, dims): ``cutout``'s bytes
    contract (one image a request), else the mask one (batched)."""
    if name == CUTOUT.name:
        inputs, outputs, batched = CUTOUT.inputs, CUTOUT.outputs, False
    else:
        inputs, outputs, batched = contract.inputs, contract.outputs, True
    return {"input": config_tensors(inputs, batched), "output": config_tensors(outputs, batched)}


def tensor_problems(config: Any, name: str, contract: ServingContract = CONTRACT) -> list[str]:
    """Disagreements of one parsed config (default or custom) with its folder and contract."""
    problems = []
    if config.name and config.name != name:
        problems.append(f"config name {config.name!r} ≠ folder {name!r}")
    for kind, expected in _expected_tensors(name, contract).items():
        declared = [
            (t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims))
            for t in getattr(config, kind)
        ]
        if declared != expected:
            problems.append(f"expected {kind} {expected}, got {declared}")
    return problems


def contract_for(model: StagedModel) -> ServingContract:
    """A staged model's contract: the catalogue's, or a custom model's family's (its
    manifest says which: ``python -m convert custom``)."""
    family = (model.manifest or {}).get("family")
    custom = {base_name(model.name): family} if family in FAMILY_CONTRACTS else {}
    return contract_of(model.name, custom)


def config_problems(model: StagedModel, contract: ServingContract | None = None) -> list[str]:
    """Disagreements of a parsed config with its folder, its contract (None: the model's own)
    and the staged files, and of each custom configuration (``configs/*.pbtxt``) with it."""
    contract = contract or contract_for(model)
    config = model.config
    problems = tensor_problems(config, model.name, contract)
    for config_name, custom in sorted(model.custom_configs.items()):
        where = f"{CUSTOM_CONFIGS_DIR}/{config_name}.pbtxt"
        if isinstance(custom, str):
            problems.append(f"{where} does not parse: {custom}")
        else:
            problems += [f"{where}: {p}" for p in tensor_problems(custom, model.name, contract)]
    wanted_md5 = staged_md5(model.manifest, model.filename)
    if model.staged and wanted_md5 and model.md5 and wanted_md5 != model.md5:
        problems.append(f"{model.filename} changed since it was staged (md5 ≠ manifest's)")
    if model.filename == PLAN_FILE and model.staged and model.manifest is not None:
        maximum = plan_max_batch(model.manifest)
        if maximum != config.max_batch_size:
            problems.append(
                f"the plan's profile max batch {maximum} ≠ max_batch_size {config.max_batch_size}"
            )
    return problems


def inspect_model(repository: Path, name: str) -> StagedModel:
    """Read one model folder (config, staged file, manifest; md5 when there is one to match)."""
    try:
        config = read_config(Path(repository) / name / CONFIG_FILE)
    except (ParseError, OSError) as e:
        default = PLAN_FILE if name.endswith(TRT_SUFFIX) else ONNX_FILE
        return StagedModel(name, None, str(e).splitlines()[0], default, False, None, None)
    return _with_staged_files(repository, name, config)


def _custom_configs(repository: Path, name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for path in sorted((Path(repository) / name / CUSTOM_CONFIGS_DIR).glob("*.pbtxt")):
        try:
            parsed[path.stem] = read_config(path)
        except (ParseError, OSError) as e:
            parsed[path.stem] = str(e).splitlines()[0]
    return parsed


def _with_staged_files(repository: Path, name: str, config: Any) -> StagedModel:
    filename = model_filename(config)
    path, manifest_path = _staged_paths(repository, name, filename)
    manifest = read_manifest(manifest_path)
    staged = path.is_file()
    wants_md5 = staged and staged_md5(manifest, filename) is not None
    md5 = md5_of(path) if wants_md5 else None
    custom = _custom_configs(repository, name)
    return StagedModel(name, config, None, filename, staged, manifest, md5, custom)


def inspect_repository(repository: Path) -> list[StagedModel] | None:
    """Every model folder with a config.pbtxt, sorted; None when the folder does not exist."""
    if not Path(repository).is_dir():
        return None
    names = sorted(p.parent.name for p in Path(repository).glob(f"*/{CONFIG_FILE}"))
    return [inspect_model(repository, n) for n in names]


def _unstaged_hint(name: str) -> str:
    if name == CUTOUT.name:
        return f"{name} (its {PYTHON_FILE} is missing: restore model_repository/{name}/ from git)"
    if name.endswith(TRT_SUFFIX):
        return f"{name} (GPU hosts: `{CONVERT_TRT} --models {base_name(name)}`)"
    if name.endswith(INT8_SUFFIX):
        return f"{name} (optional: `{CONVERT} quantize --models {base_name(name)}`)"
    return f"{name} (`{CONVERT} --models {base_name(name)}`)"


def staged_check(
    repository: Path, models: Sequence[StagedModel] | None, deployment: Deployment
) -> Check:
    """Which models are staged; blocking when nothing the deployment serves is."""
    name = "repository"
    if models is None:
        return fail(
            name,
            f"{repository} does not exist",
            f"`{CONVERT}` (stages into model_repository/), or pass --model-repository",
            blocking=True,
        )
    staged = [m.name for m in models if m.staged]
    missing = [_unstaged_hint(m.name) for m in models if not m.staged and m.config is not None]
    detail = f"{repository}: staged {', '.join(staged) or 'nothing'}"
    if missing:
        detail += f"; not staged: {', '.join(missing)}"
    servable = [n for n in staged if n.endswith(CPU_SUFFIXES) or deployment == "gpu"]
    if not servable:
        known = ",".join(MODEL_NAMES)
        return fail(name, detail, f"`{CONVERT} --models {known}`", blocking=True, staged=staged)
    return ok(name, detail, staged=staged)


def _plan_detail(facts: PlanFacts) -> str:
    state = "verified" if facts.verified else "NOT verified (staged with --force)"
    return (
        f"built with TensorRT {facts.tensorrt_version} for {facts.sm} ({facts.gpu_name}), "
        f"{facts.precision or '?'}, {state}"
    )


def plan_check(
    model: StagedModel, host_capabilities: Sequence[str], deployment: Deployment
) -> Check:
    """A staged plan against the pinned TensorRT and this host's GPUs."""
    name = f"repository.{model.name}"
    rebuild = f"rebuild with `{CONVERT_TRT} --force --models {base_name(model.name)}`"
    blocking = deployment == "gpu"
    if model.manifest is None:
        return fail(name, "the plan has no manifest.json", rebuild, blocking=blocking)
    try:
        facts = parse_plan_manifest(model.manifest)
    except ValueError as e:
        return fail(name, str(e), rebuild, blocking=blocking)
    detail = _plan_detail(facts)
    data = {"tensorrt_version": facts.tensorrt_version, "sm": facts.sm}
    pinned = tensorrt_in_use()
    if pinned is None:
        detail += (
            f"; ${RELEASE_ENV}={release_in_use()} is not the pinned {NGC_RELEASE}, whose "
            "TensorRT this project does not know: the version is not compared"
        )
    problems = plan_problems(facts, host_capabilities, pinned) + config_problems(model)
    if problems:
        fix = (
            f"{rebuild} with TensorRT {NGC_TENSORRT_VERSION} on the serving GPU "
            "(docker compose's convert service does)"
        )
        return fail(name, f"{detail}; {'; '.join(problems)}", fix, blocking=blocking, **data)
    if not host_capabilities:
        return na(name, f"{detail}; no GPU here to serve it", **data)
    return ok(name, f"{detail}; matches {TRITON_IMAGE} and this host", **data)


def model_check(
    model: StagedModel, host_capabilities: Sequence[str], deployment: Deployment
) -> Check:
    """A config that does not parse or disagrees with what is staged; plans get plan_check."""
    name = f"repository.{model.name}"
    if model.config is None:
        return fail(
            name,
            f"config.pbtxt does not parse: {model.config_error}",
            f"`{CONVERT} configs` rewrites every config.pbtxt",
            blocking=True,
        )
    if model.filename == PLAN_FILE and model.staged:
        return plan_check(model, host_capabilities, deployment)
    problems = config_problems(model)
    if problems:
        fix = f"`{CONVERT} configs`, then `{CONVERT} --models {base_name(model.name)}`"
        return fail(name, "; ".join(problems), fix, blocking=model.staged)
    staged = f"{model.filename} matches its manifest" if model.md5 else f"{model.filename} staged"
    return ok(name, f"config agrees with the contract; {staged}" if model.staged else "config ok")
