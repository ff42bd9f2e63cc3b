"""Weight clustering (tfmot), optionally sparsity-preserving; wrappers stripped before returning."""

from __future__ import annotations

from typing import Any

from workbench._keras import tfmot
from workbench.compress._layers import rewrite, unreached
from workbench.compress.result import StepResult
from workbench.data import Dataset
from workbench.models import fit
from workbench.spec import TrainingSpec
from workbench.spec.steps import ClusterSpec

CLUSTERABLE = ("Conv2D", "Dense", "DepthwiseConv2D", "Conv1D")
INIT = {
    "kmeans_plus_plus": "KMEANS_PLUS_PLUS", "linear": "LINEAR", "density": "DENSITY_BASED", "random": "RANDOM",
}


def apply_cluster(model: Any, step: ClusterSpec, data: Dataset, training: TrainingSpec) -> StepResult:
    """Cluster each selected kernel to ``step.clusters`` shared values, then fine-tune the centroids.

    Args:
        model: the Keras model to cluster; not modified.
        step: clusters, centroid init, preserve_sparsity, epochs, learning rate and layer selection.
        data: fine-tuning and validation arrays.
        training: batch size.
    Returns:
        The stripped clustered model; facts ``clustered_layers`` (names).
    Raises:
        SpecError: the layer selection matches no clusterable layer.
    """
    init = getattr(tfmot.clustering.keras.CentroidInitialization, INIT[step.init])
    kwargs = {"number_of_clusters": step.clusters, "cluster_centroids_init": init}
    if step.preserve_sparsity:
        kwargs["preserve_sparsity"] = True  # sparsity-preserving clustering (collaborative optimization)
    clustered, names = rewrite(model, step.layers, lambda layer: tfmot.clustering.keras.cluster_weights(
        layer, **kwargs), "cluster", CLUSTERABLE)
    history = fit(clustered, data, step.epochs, training.batch_size, step.learning_rate, loss=training.loss)
    return StepResult(tfmot.clustering.keras.strip_clustering(clustered), history, {"clustered_layers": names},
                      unreached(model, step.layers, "cluster", CLUSTERABLE))
