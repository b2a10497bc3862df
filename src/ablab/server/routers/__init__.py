"""The ``/v1`` routers, one per resource, each a thin layer over the service functions."""
