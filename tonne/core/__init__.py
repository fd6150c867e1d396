"""What every module shares and no module owns: amounts (``units``), token ids (``ids``), the CSV reader
(``csvinput``), text tables (``report``), deployment records (``deployments``), a plain local Anvil
(``localchain``) and the CLI's option types and error plumbing (``clihelp``).

Nothing here imports a module package (registry, issuance, ...): the modules import it.
"""
