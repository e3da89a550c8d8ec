"""Task and queue names shared by the producer (web) and the consumer (worker)."""

TRAIN_TASK = "pokegan.train_run"
IMPORT_TASK = "pokegan.import_dataset"
DATASETS_QUEUE = "datasets"
