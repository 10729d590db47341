"""One module per business operation on a request. Each is `Operation(...).execute()`, with its guards
written out; pages and the CLI call these, never the backends' write methods directly."""
from portal.operations.approve import ApproveRequest
from portal.operations.merge import MergeRequest
from portal.operations.preview import Preview, PreviewRequest
from portal.operations.reject import RejectRequest
from portal.operations.request_changes import RequestChanges
from portal.operations.resubmit import ResubmitRequest
from portal.operations.submit import SubmitRequest

__all__ = ["ApproveRequest", "MergeRequest", "Preview", "PreviewRequest", "RejectRequest", "RequestChanges", "ResubmitRequest", "SubmitRequest"]
