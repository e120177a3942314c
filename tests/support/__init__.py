"""Helpers shared by tests of several areas: loopback servers and the docs index."""
