"""Adapters of the authorization port: embedded Cedar policies and a remote AuthZEN client."""
