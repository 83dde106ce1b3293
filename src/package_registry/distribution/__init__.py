"""The air-gapped distribution tool: copy a chosen set of packages out of a registry."""
