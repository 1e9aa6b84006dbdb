"""Simulated Linux hosts: an SSH server running our sh scripts in a real shell over a state model."""
