"""The application layer that the portal, the CLI and scheduled jobs all call: request operations,
Services (the ports) and settings. Never imports streamlit at module level."""
