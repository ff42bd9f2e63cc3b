"""Presentation: the sweep dashboard, the explorer widgets, tables and sensitivity charts. Views read
records (MLflow runs, summaries); they never compute a measurement themselves."""
