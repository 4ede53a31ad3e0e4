"""REST routers of the master, under /api/v1."""
