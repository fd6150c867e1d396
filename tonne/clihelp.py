"""``--help`` examples for the scripts: each command's epilog lists the ``ape run`` lines of its script's docstring
that run it (a group's subcommand gets its own lines), so the examples users read are the documented ones."""

from __future__ import annotations

import click


def example_lines(doc: str | None, script: str, sub: str | None = None) -> list[str]:
    """The docstring's ``ape run <script> [<sub>] ...`` lines, stripped."""
    found = []
    for line in (doc or "").splitlines():
        words = line.strip().strip("`").split()
        if words[:3] != ["ape", "run", script]:
            continue
        if sub is not None and words[3:4] != [sub]:
            continue
        found.append(" ".join(words))
    return found


def epilog(lines: list[str]) -> str:
    """A click epilog that keeps the lines as they are (``\\b`` stops click from rewrapping the paragraph)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def add_examples(command: click.Command, doc: str | None, script: str) -> click.Command:
    """Give ``command`` (and, for a group, each subcommand) an epilog of examples, unless it has one already; and
    guard it (``tonne.chain.refusal.guard``): a contract refusal is one readable line, never a trace."""
    from tonne.chain.refusal import guard

    guard(command)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            lines = example_lines(doc, script, name) or [f"ape run {script} {name} --help"]
            if not sub.epilog:
                sub.epilog = epilog(lines)
    lines = example_lines(doc, script) or [f"ape run {script}"]
    if not command.epilog:
        command.epilog = epilog(lines)
    return command


def connect_deployment(provider, connect=None):
    """The deployment on ``provider`` (``connect``: ``tonne.deployments.connect`` unless given), with a missing or
    stale record as one CLI error; the refusal decoder is told its contracts (and its money, when it has one)."""
    from tonne.chain.refusal import remember
    from tonne.deployments import DeploymentError
    from tonne.deployments import connect as connect_suite

    try:
        deployed = (connect or connect_suite)(provider)
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc
    remember(deployed.record, getattr(deployed, "money", None))
    return deployed
