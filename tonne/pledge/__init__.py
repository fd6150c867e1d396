"""Collateral pledges: the credit facility, its price oracle and the bilateral pledge (see docs/pledge.md)."""
