"""The batch-mode options of every command that starts a run which fans out (extract, verify,
consolidate): --batch, --batch-file, --batch-retry, --batch-poll."""

from __future__ import annotations

from typing import Any

import click

from trace2skill.errors import InvalidValueError
from trace2skill.llm.batch import BatchOptions
from trace2skill.llm.config import LLMConfig

batch_options = [
    click.option("--batch", "batch_api", is_flag=True,
                 help="Send the requests as batches through the endpoint's batch API (the OpenAI Batch API: half "
                      "price, answers within 24 hours) and wait for them. Ctrl-C stops waiting; `trace2skill resume "
                      "RUN` picks the batches up again without sending anything twice."),
    click.option("--batch-file", default=None, type=click.Path(dir_okay=False),
                 help="Write the requests to this JSONL file for an engine this machine cannot reach (`vllm "
                      "run-batch`); the run stops until `trace2skill batch ingest RESULTS.jsonl` brings the answers "
                      "back and resumes it."),
    click.option("--batch-retry", type=click.Choice(["batch", "live"]), default="batch", show_default=True,
                 help="A request the batch could not run: send it again in a later, smaller batch, or live."),
    click.option("--batch-poll", type=click.FloatRange(0.05), default=10.0, show_default=True,
                 help="Seconds between asking the batch API how a batch stands."),
    click.option("--batch-gather", type=click.FloatRange(0.05), default=5.0, hidden=True,
                 help="A batch goes out once no new request came for this many seconds."),
]


def with_batch_options(func: Any) -> Any:
    for option in reversed(batch_options):
        func = option(func)
    return func


def batch_choice(llm: LLMConfig, batch_api: bool, batch_file: str | None, batch_retry: str, batch_poll: float,
                 batch_gather: float) -> BatchOptions | None:
    """The run's batch options from the command line (None: live calls), checked against the model."""
    if batch_api and batch_file:
        raise click.UsageError("--batch and --batch-file cannot be used together: submit to a batch API or write "
                               "a file for another engine")
    if batch_api and llm.base_url is None:
        raise InvalidValueError("the embedded local model answers live only: give --base-url of an endpoint with a "
                                "batch API, or use --batch-file for another engine")
    if batch_file and not llm.model:
        raise InvalidValueError("name the model the batch engine will run: --model NAME")
    if not (batch_api or batch_file):
        return None
    return BatchOptions(mode="file" if batch_file else "api", file=batch_file, retry=batch_retry,  # type: ignore[arg-type]
                        poll_s=batch_poll, gather_s=batch_gather)
