"""The one exception the training code raises on purpose."""


class TrainingError(ValueError):
    """The run cannot go on: data that does not fit the config, a checkpoint that does not fit the networks,
    a device this machine lacks, or losses that stay NaN after every allowed rollback.
    The message says which, in a sentence meant for the person who started the run."""
