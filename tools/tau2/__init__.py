"""tau2-bench's retail domain on Deskpilot: its database (`store`), its policy in code (`policy`), and its
tool names mapped onto Deskpilot's tools over `tools.backends.tau2.Tau2StoreBackend` (`tools`).

Not in `tools.TOOLS`: the product's tool schemas are part of a byte-identical cached prompt prefix, and
these names and argument shapes are tau2's, for the evaluation (`deskpilot eval --suite tools`).
"""
