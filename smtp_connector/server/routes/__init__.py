"""Native `/v1` routers and the health check; each route translates HTTP to one service call."""
