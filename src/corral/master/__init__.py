"""The master: API, lifecycle manager, supervision of workers."""
