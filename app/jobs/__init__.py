"""Jobs that run outside the portal's pages: the merge-deploy workflow's deployment (deploy)."""
