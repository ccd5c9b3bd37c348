"""Strawberry types, inputs and errors; `build.py` makes the Schema from the operation registry."""
