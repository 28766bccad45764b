"""The domain core: the serving contract, the model catalogue, the errors, the output options
and one whole cut (``job``), mask agreement, sample photos and the command-line edge; the image
maths in ``u2net.image``, the model repository on disk in ``u2net.repository``.

It imports only numpy, Pillow and the standard library at import time, and nothing from
``client``, ``convert``, ``server``, ``web`` or ``doctor``; those import it, and ``convert``,
``server`` and ``client`` never each other (``tests/test_layering.py`` checks it).
"""
