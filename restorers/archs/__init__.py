"""Network architectures, one ``*_arch.py`` file per family; :data:`fh_gym.restorers.registry.ARCHS` scans
them on its first lookup."""
