"""Fixture package for the catalogue's ``--events`` scan; read as text, never imported."""
