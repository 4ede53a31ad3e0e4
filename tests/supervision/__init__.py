"""The supervisor's logic on the master's real services, with workers that live in memory."""
