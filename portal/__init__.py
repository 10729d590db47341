"""SnowTower's app shell: settings, who the viewer is, backends built once, operations, widgets, CLI."""
