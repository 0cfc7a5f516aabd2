"""Layer 1: the model core (config schema, agents, rules, metrics). numpy/scipy/mesa only."""
