"""Weight clustering (tfmot), optionally sparsity-preserving; wrappers stripped before export."""

from __future__ import annotations

from typing import Any

from workbench._keras import tfmot
from workbench.compress._layers import rewrite
from workbench.models import fit
from workbench.spec.steps import ClusterSpec

CLUSTERABLE = ("Conv2D", "Dense", "DepthwiseConv2D", "Conv1D")
INIT = {
    "kmeans_plus_plus": "KMEANS_PLUS_PLUS", "linear": "LINEAR", "density": "DENSITY_BASED", "random": "RANDOM",
}


def apply_cluster(model: Any, step: ClusterSpec, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    init = getattr(tfmot.clustering.keras.CentroidInitialization, INIT[step.init])
    kwargs = {"number_of_clusters": step.clusters, "cluster_centroids_init": init}
    if step.preserve_sparsity:
        kwargs["preserve_sparsity"] = True  # sparsity-preserving clustering (collaborative optimization)
    clustered, names = rewrite(model, step.layers, lambda layer: tfmot.clustering.keras.cluster_weights(
        layer, **kwargs), "cluster", CLUSTERABLE)
    ctx.info["clustered_layers"] = names
    tr = ctx.experiment.baseline.training
    history = fit(clustered, ctx.dataset, step.epochs, tr.batch_size, step.learning_rate)
    return tfmot.clustering.keras.strip_clustering(clustered), history
