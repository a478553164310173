"""Outcomes per version: feedback metrics and feedback, cost, aggregates, drift."""
