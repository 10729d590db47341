"""SnowTower's engine room: usable without Streamlit (and never imports it)."""
