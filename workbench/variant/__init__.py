"""One variant, by concern: ``inputs`` (model + data fingerprinted once, the plan made or checked, the
experiment's baseline), ``context`` (the variant's context, from a plan or by hand), ``records`` (what each
cell returns), ``artifacts`` (the variant folder's file names, once), then the cells: ``build`` (compress,
convert), ``evaluate``, ``profiling``, ``log``. ``workbench.pipeline`` is the notebook's import surface.

Nothing is imported here, so ``workbench.variant.inputs`` (the sweep's planning) stays light.
"""
