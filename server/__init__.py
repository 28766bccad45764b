"""``python -m server``: the embedded Triton 2.51 on this host (no Docker, no GPU) and its
Python-based ONNX Runtime backend; and starting it as a child process on free ports
(``server.embedded``, on the generic ``server.launch``) for the tests, benches, demo and web."""
