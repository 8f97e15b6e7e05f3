"""REST API v1 for mobile apps (DESIGN §6): thin views over the booking services."""
