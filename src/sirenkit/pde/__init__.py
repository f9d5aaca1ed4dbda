"""Partial differential equations: independent reference solvers the SIREN solutions are checked against."""
