"""``accessflow-bench`` (``python -m accessflow.bench``): the worker's throughput and
latency against the running stack, measured side by side with a naive worker and a raw
Kafka → PostgreSQL → Kafka pipe.

Every phase runs in fresh topics and a fresh schema named with the run's tag; all of them
are dropped (and every process the bench started is stopped) when it ends, however it ends.
"""
