"""The domain core: serving contract, image maths, model catalogue, repository layout, errors,
atomic files, mask agreement, sample photos and the command-line edge.

It imports only numpy, Pillow and the standard library at import time, and nothing from
``client``, ``convert``, ``server`` or ``web``; those import it and never each other
(``tests/test_layering.py`` checks it).
"""
