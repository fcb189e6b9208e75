"""Regenerate the shipped OpenFGA model: ``python -m identity_context.adapters.openfga``."""

from pathlib import Path

from identity_context.adapters.openfga import model, shipped_model_path

Path(shipped_model_path()).write_text(model())
print(f"wrote {shipped_model_path()}")
