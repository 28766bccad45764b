"""The image maths of a cut: decoding and encoding (``io``, ``decode``, ``encoders``), the
model's input and the finished picture (``render``), compositing, alpha matting, rembg's mask
post-processing, framing and the composition steps (``scene``). numpy and Pillow only."""
