"""The simulated field: meters, seal chips, collectors. Uses meterhub.protocols only."""
