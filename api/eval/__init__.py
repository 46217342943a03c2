"""`deskpilot eval`: retrieval, PII, injection and tools suites on public data, with a report and plots."""
