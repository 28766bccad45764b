"""Tests of u2net/image/: decoding, encoding, the picture maths, compositing, matting, the
composition steps."""
