"""Jobs that run outside the portal's pages: the merge-deploy workflow's deployment (deploy), the expiry
job that turns access which ended into reviewed requests through the operations (expire), and the file
lock that keeps one run of a job at a time per workspace (lock)."""
