"""Pure logic: states, transitions, policies. No I/O here."""
