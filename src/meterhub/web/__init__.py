"""Operator console (and later the customer portal and REST API). Thin: it calls the domain."""
