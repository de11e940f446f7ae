"""Operators' Panel apps (builder, events, channels, tuning) and their Panel-free state."""
