"""Tonne: tooling for tokenized carbon credits (registry, ERC-1155 credits, issuance, deployments)."""

__version__ = "0.1.0"
