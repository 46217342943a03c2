"""The support-agent sidebar: its queue, writing aids, cited passages and page (static/)."""
