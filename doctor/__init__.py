"""``python -m doctor``: is the GPU used, and if not, why and what to run.

Pure core, I/O shell: each module gathers facts (``host``: nvidia-smi; ``packages``:
installed distributions, ONNX Runtime, TensorRT, cuda-python; ``repository``: staged files,
configs, plan manifests; ``running``: a live Triton and a timed probe; ``gateway``) and turns
them into plain :class:`~doctor.check.Check` values with pure functions. ``diagnose``
runs them in order, ``report`` renders text or JSON; only the command line prints.
"""
