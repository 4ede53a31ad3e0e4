"""The worker agent: registers with the master, heartbeats, and later runs jobs.

Kept free of heavy imports: a worker must restart in well under a second.
"""
