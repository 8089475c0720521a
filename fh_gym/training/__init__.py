"""Training data plumbing that needs the env machinery (patch pairs for restorer pre-training)."""
