"""Attention-FH agent (Shi et al., TPAMI 2020): recurrent policy network + jointly trained local enhancement.

``policy.AttentionFHPolicy`` (Sec. 3.2), ``train.train`` (Algorithm 1, REINFORCE with a baseline),
``agent.load`` / ``agent.defaults`` (registered as ``fh-gym train --algo attention_fh`` in
``agents.algos.paper_agents``).
"""
