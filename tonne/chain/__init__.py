"""Chain access shared by the bulk tools (issue, retire, certificate): batched block-pinned reads (``view``),
senders that sign, submit and wait (``send``), and the problem/error types every tool reports with (``errors``)."""
