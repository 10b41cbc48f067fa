"""Hierarchical consolidation: per-trajectory patches, the merge tree, provenance and support."""
