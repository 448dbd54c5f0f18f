"""Sans-IO replication formats: sync frames (frames.py) and sneakernet bundles (bundle.py)."""
