"""The foundation: the registry and the credit token. ``suite`` deploys and wires the core contracts (registry,
credit token, retirement, compliance periods: each constructor takes the one before), ``ops`` registers projects
and batches, ``admin`` manages roles, the allowlist, freezes, pause and the admin transfer."""
