"""The HTTP API of the payment server: the app factory, routers, error handling, body limit."""
