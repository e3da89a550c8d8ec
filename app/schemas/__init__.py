"""Pydantic request and response shapes of the JSON API (families: XBase / XCreate / XPublic)."""
