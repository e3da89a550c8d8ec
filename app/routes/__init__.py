"""HTTP routes: JSON API modules (api_*, generate, health) and HTML page modules (pages*) kept apart."""
