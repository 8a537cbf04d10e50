"""Adapters over local files (configuration the operator ships with the deployment)."""
