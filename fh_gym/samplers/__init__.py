"""Training batches drawn from fh-gym's datasets and env for the supervised recipes: LR/HR image pairs
(:mod:`~fh_gym.samplers.image_pairs`) and restorer-input / HR-window patch pairs from random-policy repair
episodes (:mod:`~fh_gym.samplers.patch_pairs`)."""
