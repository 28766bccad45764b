"""Load testing against served models: the load generator (``loadgen``), two models compared
under the same load (``ab``, ``python -m client ab``) and a concurrency sweep (``bench``,
``python -m client bench``). The client library does not import it."""
