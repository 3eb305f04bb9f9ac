"""Database tables, connections, lock helpers and file readers."""
