"""What every module shares and no module owns: amounts (``units``), token ids (``ids``), the CSV reader
(``csvinput``), text tables (``report``), deployment records and the deploy steps' context (``deployments``), a
plain local Anvil (``localchain``), the CLI's option types and error plumbing (``clihelp``), and what the demo
steps share (``demo``).

Nothing here imports a module package (registry, issuance, ...): the modules import it. ``tonne.chain`` is the
layer beside it that sends and reads transactions; these files are not about transactions, so they are kept apart.
"""
