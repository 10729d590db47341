"""Helpers the operations share; none of them is an operation, and none imports one (the import contract
"operations never import each other except through the application layer's shared helpers" in
pyproject.toml checks it):

- audited: how an operation runs (the actor's roles re-read, its intent and outcome audit records, the
  repair of intents left without an outcome);
- guards: the guards the operations share, each with its reason;
- preview: what a request would change and SnowDDL's verdict (`PreviewRequest`, the one preview of the
  portal, the CLI and every write that recomputes it);
- protected: the deploying account and roles that no request may touch (read from the preview's plan);
- body: the change request's description that reviewers read first.
"""
