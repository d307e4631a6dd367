"""Connection options shared by every aiokafka client accessflow creates."""

from __future__ import annotations

import ssl
from typing import Any

from accessflow.settings_base import KafkaConnectionSettings, KafkaSecurityProtocol


def client_options(settings: KafkaConnectionSettings) -> dict[str, Any]:
    """Bootstrap servers plus the SASL/SSL passthrough for real clusters."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol.value,
    }
    if settings.kafka_security_protocol in (
        KafkaSecurityProtocol.SSL,
        KafkaSecurityProtocol.SASL_SSL,
    ):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
        options["ssl_context"] = context
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options
