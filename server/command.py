"""The ``tritonserver`` command line and the repository it serves, as plain data.

No secret is ever put on the command line (``ps`` shows it to every local user):

- By default Triton serves a temporary repository that links only the selected models, with
  ``--model-control-mode=none``: load and unload do not exist at all.
- The admin protocols (repository, shared memory, trace, logging) are restricted to a header
  whose required value contains a line break. No HTTP or gRPC client can send that value, so
  the protocols are off, and the value is no secret.
- ``--allow-model-control`` serves the repository itself in explicit mode. Its admin key is
  read from ``$U2NET_ADMIN_KEY`` or ``--admin-key-file``; Triton only takes it on its command
  line, so docs/api.md says it is visible to local users there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from server.shm import region_prefix
from u2net.repository.layout import CPU_CONFIG_NAME

ADMIN_KEY_ENV = "U2NET_ADMIN_KEY"
ADMIN_HEADER = "u2net-admin-key"  # over gRPC Triton expects it as triton-grpc-protocol-<name>
OFF_HEADER = "u2net-disabled"
UNSENDABLE = "no\nclient can send this"  # a header value cannot hold a line break
ADMIN_PROTOCOLS = ("model-repository", "shared-memory", "trace", "logging")


@dataclass(frozen=True)
class ServeSettings:
    host: str
    grpc_port: int
    http_port: int
    metrics_port: int
    model_control: bool = False
    admin_key: str | None = None  # only with model_control
    verbose: bool = False
    config_name: str | None = None  # Triton's custom model configuration (configs/<name>.pbtxt)
    response_cache_bytes: int = 0  # Triton's local response cache; 0: none


def link_repository(target: Path, repository: Path, names: Sequence[str]) -> Path:
    """A repository under ``target`` holding links to just the ``names`` folders."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        (target / name).symlink_to((Path(repository) / name).resolve(), target_is_directory=True)
    return target


def _restrictions(settings: ServeSettings) -> list[str]:
    off = f"{OFF_HEADER}={UNSENDABLE}"
    if settings.model_control and settings.admin_key:
        admin = f"{ADMIN_HEADER}={settings.admin_key}"
        groups = [("model-repository", admin), (",".join(ADMIN_PROTOCOLS[1:]), off)]
    elif settings.model_control:  # opt-in without a key: the repository API is open
        groups = [(",".join(ADMIN_PROTOCOLS[1:]), off)]
    else:
        groups = [(",".join(ADMIN_PROTOCOLS), off)]
    flags = []
    for protocols, header in groups:
        flags += [
            f"--grpc-restricted-protocol={protocols}:{header}",
            f"--http-restricted-api={protocols}:{header}",
        ]
    return flags


AUTO_CONFIG = "auto"  # cpu, unless ONNX Runtime offers CUDA on this host
DEFAULT_CONFIG = "default"  # config.pbtxt: the GPU host's configuration


def choose_config(requested: str, cuda_offered: bool) -> str | None:
    """Triton's ``--model-config-name`` (None: config.pbtxt) for ``--model-config-name``."""
    if requested == AUTO_CONFIG:
        requested = DEFAULT_CONFIG if cuda_offered else CPU_CONFIG_NAME
    return None if requested == DEFAULT_CONFIG else requested


def shown(command: Sequence[str], settings: ServeSettings) -> str:
    """The command as it may appear in a log: the admin key, if any, replaced by ``***``."""
    text = " ".join(command)
    return text.replace(settings.admin_key, "***") if settings.admin_key else text


def triton_command(
    binary: Path,
    settings: ServeSettings,
    repository: Path,
    backends: Path,
    model_names: Sequence[str],
    *,
    caches: Path | None = None,
) -> list[str]:
    """The full command; ``repository`` is the linked one unless model control is allowed;
    ``caches``: the folder of Triton's cache libraries, for a response cache."""
    if settings.model_control:
        control = ["--model-control-mode=explicit", *(f"--load-model={n}" for n in model_names)]
    else:
        control = ["--model-control-mode=none"]
    command = [
        str(binary),
        f"--model-repository={Path(repository).resolve()}",
        f"--backend-directory={backends}",
        *control,
        "--strict-readiness=true",
        "--exit-on-error=true",
        f"--grpc-address={settings.host}",
        f"--grpc-port={settings.grpc_port}",
        f"--http-address={settings.host}",
        f"--http-port={settings.http_port}",
        f"--metrics-address={settings.host}",
        f"--metrics-port={settings.metrics_port}",
        "--allow-gpu-metrics=false",
        # unique shared-memory names: several servers may run on one host (server/shm.py)
        f"--backend-config=python,shm-region-prefix-name={region_prefix()}",
        *_restrictions(settings),
    ]
    if settings.config_name:
        command.append(f"--model-config-name={settings.config_name}")
    if settings.verbose:
        command.append("--log-verbose=1")
    if settings.response_cache_bytes > 0:
        if caches is None:
            raise ValueError("a response cache needs the folder of Triton's cache libraries")
        command.append(f"--cache-config=local,size={settings.response_cache_bytes}")
        command.append(f"--cache-directory={caches}")
    return command
