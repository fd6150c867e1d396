"""`make bench`: ``run`` runs every module's bench rows (``tonne.modules``) and writes bench/results.json;
``gas`` measures the core suite's gas per operation against OpenZeppelin baselines; ``constancy`` measures the gas
of the n-th operation over thousands of them."""
