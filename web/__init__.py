"""``python -m web``: an HTTP gateway in front of Triton's ``cutout`` model.

rembg's ``/api/remove``, remove.bg's ``/v1.0/removebg`` and a web UI; the gateway forwards the
uploaded bytes and the options to ``cutout`` over gRPC and sends back what it answers.
"""
