"""Delivery: SMTP sessions on aiosmtplib (TLS, AUTH, pipelining), pool, failover, health, throttles.
Imports config, compose's message type and the shared vocabulary; never the connector or above."""
