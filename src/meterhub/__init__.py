"""meterhub: remote meter reading, billing and anti-tamper for water, electricity and gas."""

__version__ = "0.1.0"
