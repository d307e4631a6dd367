"""accessflow: Graph-compatible access package assignment requests on Kafka and PostgreSQL."""

__version__ = "0.1.0"
