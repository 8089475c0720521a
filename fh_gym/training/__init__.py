"""Training data from fh-gym's datasets and env for the supervised recipes: LR/HR image pairs (``pairs``) and
restorer-input / HR-window patch pairs from random-policy repair episodes (``patch_pairs``)."""
