"""Cost sensitivity sweep: a Hydra multirun of pipeline.optimize, tracked in MLflow by one writer."""
