"""What the IPFH agent adds to the shared policy-gradient trainer: the restoration losses (``losses``: patch
loss Eq. 16, image loss Eq. 17) and their joint training (``finetune``). The policy controller is
``agents/policies/ipfh.py``; the algorithm (``fh-gym train --algo ipfh``) is ``agents/algos/ipfh.py``.
"""
