// Package apierr is the error vocabulary of fibergate's API: the google.rpc.ErrorInfo domain,
// reasons and metadata keys, the domain errors of the API itself, the mapping of every domain
// error to a gRPC status (ToStatus), and the interceptors that shape every status a caller
// receives.
//
// The contract: handlers and interceptors return domain errors (this package's sentinels, the
// sentinels and error types of internal/tasks, internal/fiber and internal/budget, wrapped
// with context and, where the caller's input is worth echoing, with InField or ForTask); the
// error interceptors convert them once, at the edge. Every status a caller receives, over gRPC
// or REST, carries exactly one ErrorInfo of domain ErrorDomain, and an INVALID_ARGUMENT also a
// google.rpc.BadRequest. Reasons, metadata keys and field names are part of the API: clients
// switch on them, so they never change meaning.
//
// apierr imports the domain packages whose errors it maps; they never import it, nor
// google.golang.org/grpc/codes.
package apierr

// ErrorDomain is the google.rpc.ErrorInfo domain of every fibergate error.
const ErrorDomain = "fibergate"

// ErrorInfo reasons. They are part of the API: clients switch on them.
const (
	ReasonValidationFailed       = "VALIDATION_FAILED"
	ReasonFiberAPIKeyMissing     = "FIBER_API_KEY_MISSING"
	ReasonUpstreamBadRequest     = "UPSTREAM_INVALID_ARGUMENT"
	ReasonUpstreamUnauthorized   = "UPSTREAM_UNAUTHENTICATED"
	ReasonUpstreamOutOfCredits   = "UPSTREAM_OUT_OF_CREDITS"
	ReasonUpstreamForbidden      = "UPSTREAM_PERMISSION_DENIED"
	ReasonUpstreamNotFound       = "UPSTREAM_NOT_FOUND"
	ReasonUpstreamRateLimited    = "UPSTREAM_RATE_LIMITED"
	ReasonUpstreamUnavailable    = "UPSTREAM_UNAVAILABLE"
	ReasonUpstreamOutcomeUnknown = "UPSTREAM_OUTCOME_UNKNOWN"
	ReasonUpstreamProtocol       = "UPSTREAM_PROTOCOL_ERROR"
	ReasonTaskNotFound           = "TASK_NOT_FOUND"
	ReasonTaskRunning            = "TASK_RUNNING"
	ReasonTaskFinished           = "TASK_FINISHED"
	ReasonFiberAPIKeyUnavailable = "FIBER_API_KEY_UNAVAILABLE"
	ReasonInvalidToken           = "INVALID_TOKEN"
	ReasonShuttingDown           = "SHUTTING_DOWN"
	ReasonStoreUnavailable       = "STORE_UNAVAILABLE"
	ReasonIdempotencyKeyReused   = "IDEMPOTENCY_KEY_REUSED"
	ReasonRequestInProgress      = "REQUEST_IN_PROGRESS"
	ReasonUnauthenticated        = "UNAUTHENTICATED"
	ReasonRequestKeyRefused      = "REQUEST_API_KEY_NOT_ALLOWED"
	ReasonTooManyStreams         = "TOO_MANY_STREAMS"
	ReasonRateLimited            = "RATE_LIMITED"
	ReasonCanceled               = "CANCELED"
	ReasonDeadlineExceeded       = "DEADLINE_EXCEEDED"
	ReasonInternal               = "INTERNAL"
	ReasonUnknownMethod          = "UNIMPLEMENTED_METHOD"
	ReasonTaskNotRecorded        = "TASK_NOT_RECORDED"
	ReasonTaskIDConflict         = "TASK_ID_CONFLICT"

	// Reasons of the REST gateway's own answers, given before any RPC runs.

	ReasonBodyTooLarge     = "REQUEST_TOO_LARGE"
	ReasonRouteNotFound    = "ROUTE_NOT_FOUND"
	ReasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
	ReasonBadRequest       = "BAD_REQUEST"
	ReasonRequestTimeout   = "REQUEST_TIMEOUT"
)

// ErrorInfo metadata keys. Like the reasons, they are part of the API.
const (
	// MetaField is the JSON path of the offending field, or the header it came from ("" for
	// the request as a whole).
	MetaField = "field"
	// MetaRule is the violated rule, such as protovalidate's "string.uuid" or "json.type".
	MetaRule = "rule"
	// MetaTaskID is the task id the request named.
	MetaTaskID = "task_id"
	// MetaRecordID is the id of the record an operator reconciles (cmd/reconcile lists it), also
	// in the server's RECONCILE log line.
	MetaRecordID = "record_id"
	// MetaMethod is the full gRPC method name of a call the server does not have.
	MetaMethod = "method"
	// MetaMaxBytes is the largest request body the REST gateway takes, in bytes.
	MetaMaxBytes = "max_bytes"
	// MetaEndpoint is the Fiber endpoint an upstream error or rate limit is about.
	MetaEndpoint = "endpoint"
	// MetaHTTPStatus is the HTTP status Fiber answered with.
	MetaHTTPStatus = "http_status"
	// MetaRetryAfter is how long to wait before retrying, as a Go duration ("1.5s").
	MetaRetryAfter = "retry_after"
	// MetaKeyID is the id (never the key) of the Fiber API key whose rate limit is booked up.
	MetaKeyID = "key_id"
	// MetaLimit is that rate limit, such as "10/1s".
	MetaLimit = "limit"
	// MetaGetMoreCreditsURL is where Fiber sells more credits.
	MetaGetMoreCreditsURL = "get_more_credits_url"
	// MetaAvailableCredits is the Fiber account's credit balance.
	MetaAvailableCredits = "available_credits"
)

// Request fields and metadata that errors name, and that the REST gateway and the handlers
// agree on.
const (
	// IdempotencyKeyHeader is the REST header, in canonical form, that may carry a
	// StartBatch's request id instead of the request_id field; over gRPC it is the metadata
	// key of that name (gRPC lowercases it). Errors about a key that came from it name it as
	// their field.
	IdempotencyKeyHeader = "Idempotency-Key"
	// FieldRequestID is StartBatchRequest.request_id by its JSON name, as errors name it.
	FieldRequestID = "requestId"
	// UnknownFieldsMetadataKey is the gRPC metadata key on which the REST gateway passes the
	// paths of JSON fields it did not understand, one path per value (such as
	// "personDetails[0].foo"). The handlers answer them as warnings: the request's problems
	// that are not errors.
	UnknownFieldsMetadataKey = "fibergate-unknown-fields"
)
