"""Simulated Windows hosts: a WS-Management endpoint (``wsman``) over a state model (``model``)."""
