"""Thin Panel views over dashboards.state."""
