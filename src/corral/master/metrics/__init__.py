"""What the master measures of its fleet and jobs, and how it exports it."""
