"""IPFH agent (identity-preserving FH via deep RL): policy controller + jointly trained local restoration net.

``policy.IPFHPolicy`` (Sec. III-B.2 "Policy Controller"), ``losses`` (patch loss Eq. 16, image loss Eq. 17),
``train.train`` (policy gradient on the env's ``ipfh`` reward), ``agent.load`` / ``agent.defaults``
(registered as ``fh-gym train --algo ipfh`` in ``agents.algos.paper_agents``).
"""
