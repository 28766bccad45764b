"""The model repository on disk: its layout (``layout``), the staged models' manifests
(``manifests``) and the atomic writes and md5s they are made with (``files``)."""
