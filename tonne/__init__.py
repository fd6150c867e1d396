"""Tonne: tooling for tokenized carbon credits. One package a module (registry, token, issuance, retirement,
compliance, pledge, bridge), listed in ``tonne.modules``; ``core``, ``chain`` and ``bulk`` are what they share."""

__version__ = "0.1.0"
