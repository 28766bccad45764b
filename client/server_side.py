"""``python -m client cut --server-side``: send the file's bytes to the ``cutout`` model and
write what comes back; Triton does the decoding, resizing, composing and encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from client.errors import InvalidImage
from client.triton import DEFAULT_TIMEOUT_S, TritonModel
from u2net.catalogue import DEFAULT_MODEL
from u2net.contract import CUTOUT, CutoutContract, check_cutout_metadata
from u2net.imaging import DEFAULT_MAX_PIXELS
from u2net.job import CutResult
from u2net.options import MAX_PIXELS, OutputOptions, to_parameters
from u2net.retry import RetryPolicy


class CutoutModel(TritonModel):
    """The served ``cutout`` model (same connection, retry and error handling as the rest)."""

    def __init__(
        self,
        url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        contract: CutoutContract = CUTOUT,
    ) -> None:
        super().__init__(url, contract.name, timeout_s, retry)
        self.cutout = contract
        self.outputs = [
            grpcclient.InferRequestedOutput(name)
            for name in (contract.output_name, contract.size_name, contract.box_name)
        ]

    def candidates(self) -> list[str]:
        return [self.cutout.name]

    def check(self, metadata: dict) -> None:
        check_cutout_metadata(metadata, self.cutout)

    def cut_bytes(self, data: bytes, parameters: dict[str, bool | int | str]) -> CutResult:
        """One encoded image -> the finished, encoded result (with its size and box)."""
        tensor = grpcclient.InferInput(self.cutout.input_name, [1], self.cutout.bytes_dtype)
        tensor.set_data_from_numpy(np.array([data], dtype=np.object_))
        result = self._call(
            "infer", self.resolve(), [tensor], outputs=self.outputs, parameters=parameters
        )
        width, height = (int(v) for v in result.as_numpy(self.cutout.size_name))
        left, top, box_w, box_h = (int(v) for v in result.as_numpy(self.cutout.box_name))
        data_out = result.as_numpy(self.cutout.output_name).reshape(-1)[0]
        return CutResult(bytes(data_out), (width, height), (left, top, box_w, box_h))


class ServerSideCutter:
    """Cuts files through ``cutout``: the same interface as :class:`client.Cutter`'s files."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.cutout = CutoutModel(url, timeout_s, retry)
        self.inner = TritonModel(url, model, timeout_s, retry)
        self.concurrency = concurrency
        self.max_pixels = max_pixels

    def connect(self) -> str:
        """Check that ``cutout`` and the model it should use are both ready."""
        self.cutout.resolve()
        return self.inner.resolve()

    def cut_file(self, path: Path, options: OutputOptions) -> bytes:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as e:
            raise InvalidImage("no such file") from e
        except IsADirectoryError as e:
            raise InvalidImage("expected an image file, got a directory") from e
        except OSError as e:
            raise InvalidImage(f"cannot read: {e.strerror or e}") from e
        if not data:
            raise InvalidImage("empty file: expected an image, got 0 bytes")
        model = self.inner.resolve()
        parameters = {**to_parameters(options, model), MAX_PIXELS: self.max_pixels}
        return self.cutout.cut_bytes(data, parameters).data

    def close(self) -> None:
        self.cutout.close()
        self.inner.close()

    def __enter__(self) -> ServerSideCutter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
