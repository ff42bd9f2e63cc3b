"""Catalogues: each concept several parts use (runtimes, metrics, zoo models), declared once as frozen data.
Pure: nothing here imports TensorFlow, MLflow or the rest of the package."""
