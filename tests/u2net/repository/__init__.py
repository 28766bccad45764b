"""Tests of u2net/repository/: the layout, the manifests, atomic files."""
