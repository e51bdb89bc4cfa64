"""Middleware at the HTTP edge: authentication, rate limits, body limit, logging, tracing."""
