"""tau2-bench's retail domain in Deskpilot's tool conventions: its database, its policy in code, its tools.

Kept apart from `tools.TOOLS` on purpose: the product's tool schemas are part of a byte-identical cached
prompt prefix, and these tools exist for the evaluation (`deskpilot eval --suite tools`).
"""
