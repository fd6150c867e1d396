"""ape scripts (`ape run <name>`).

This file makes `scripts` a regular package. Without it, `scripts` is a namespace package merged from every
`scripts/` folder on sys.path, and ape reorders sys.path while it loads each script: a checkout whose
virtualenv's `.pth` points at another checkout (git worktrees sharing one venv) then ran the other checkout's
`deploy.py`. A regular package is found wherever it sits on the path, ahead of namespace portions.
"""
