"""PostgreSQL store: embedded server, connection pool and versioned migrations."""
