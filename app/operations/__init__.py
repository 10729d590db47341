"""One module per business operation on a request. Each is `Operation(...).execute()`, with its guards
written out; pages and the CLI call these, never the backends' write methods directly. What they share
(audit, guards, the preview, the request body) is in app.operations.shared; no operation imports another
but through it (pyproject.toml's import contract). Jobs that reuse operations are in app.jobs."""
from app.operations.approve import ApproveRequest
from app.operations.merge import MergeRequest
from app.operations.shared.preview import Preview, PreviewRequest
from app.operations.reject import RejectRequest
from app.operations.request_changes import RequestChanges
from app.operations.resubmit import ResubmitRequest
from app.operations.revert import RevertFailedDeployment
from app.operations.submit import SubmitRequest
from app.operations.withdraw import WithdrawRequest

__all__ = ["ApproveRequest", "MergeRequest", "Preview", "PreviewRequest", "RejectRequest", "RequestChanges", "ResubmitRequest", "RevertFailedDeployment", "SubmitRequest", "WithdrawRequest"]
