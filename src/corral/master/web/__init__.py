"""The dashboard: server-rendered pages, their live signals and the offline API docs."""
