"""pokegan web app, API, database and settings."""
