"""One typed schema per config group of conf/ (schema.py says how they are built and checked)."""
