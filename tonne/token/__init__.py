"""The credit token (contracts/token/CarbonCredit.sol): deployed with the registry by ``tonne.registry.suite``,
administered through ``tonne.registry.admin``; what is its own here is its part of the demo."""
