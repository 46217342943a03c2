"""Channels: each translates one protocol (verify, parse, acknowledge, enqueue, render back) into the conversation service."""
