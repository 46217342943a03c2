"""Channels: each translates one protocol (verify, parse, ack, enqueue, render) for the conversations."""
