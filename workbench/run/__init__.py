"""Orchestration: sweeps (plan -> execute -> settle), one variant as a papermill process tree, executors
(local pool, Dask), the accuracy-budget search and the nightly comparison. Never imports TensorFlow."""
