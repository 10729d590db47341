"""Load, validate and edit SnowDDL configs through SnowDDL's own parsers."""
