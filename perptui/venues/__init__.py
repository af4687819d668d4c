"""Venues: one interface (base.Venue), several implementations (local, remote)."""
