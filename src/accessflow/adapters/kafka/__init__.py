"""Kafka adapters (aiokafka): client options, topics, consumer, producer."""
