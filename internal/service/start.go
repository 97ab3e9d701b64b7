package service

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

// StartBatch starts a Fiber batch and returns Fiber's answer mapped onto the contract. The
// request was validated by the protovalidate interceptor before it got here. With a
// request_id (or Idempotency-Key header) it is idempotent: see idempotency.
func (s *Service) StartBatch(ctx context.Context, req *cdv1.StartBatchRequest) (*cdv1.StartBatchResponse, error) {
	key, err := s.apiKey(req.GetApiKey())
	if err != nil {
		return nil, err
	}
	id, field, err := requestID(ctx, req)
	if err != nil {
		return nil, err
	}
	// Nothing goes to Fiber that could not be recorded.
	if err := s.storeUp(); err != nil {
		return nil, err
	}
	var reqKey string
	if id != "" {
		reqKey = principal(ctx) + "/" + id
	}
	start := func() (*cdv1.StartBatchResponse, error) { return s.start(ctx, key, reqKey, req) }
	if id == "" {
		resp, err := start()
		return resp, err
	}
	hash, err := payloadHash(req, key)
	if err != nil {
		return nil, err
	}
	resp, err := s.idem.do(ctx, reqKey, hash, start)
	if errors.Is(err, apierr.ErrIdempotencyKeyReused) {
		err = apierr.InField(field, err)
	}
	return resp, err
}

// start sends the start upstream and records the task. reqKey is the request's idempotency
// key, "" if it has none.
func (s *Service) start(ctx context.Context, key, reqKey string, req *cdv1.StartBatchRequest) (*cdv1.StartBatchResponse, error) {
	freq := fiberpb.StartRequestToFiber(req)
	// The rate limiter queues callers fairly by this name.
	resp, err := s.fiber.Start(budget.WithCaller(ctx, principal(ctx)), key, freq)
	if err != nil {
		s.log.WarnContext(ctx, "fiber start failed", "key_id", fiber.KeyID(key), "people", len(req.GetPersonDetails()), "err", err)
		if fiber.KindOf(err) == fiber.KindOutcomeUnknown {
			s.recordAmbiguousStart(ctx, key, reqKey, freq.LinkedInURLs, err)
		}
		if _, wait := errors.AsType[*budget.WaitError](err); fiber.KindOf(err) == 0 && !wait && s.health != nil {
			// Neither Fiber nor the budget's queue refused it: the budget could not book the
			// start in the store (a budget shared by replicas), and nothing was sent.
			err = s.health.Failed(ctx, err)
		}
		return nil, err
	}
	out := fiberpb.StartResponseFromFiber(resp)
	out.Warnings = append(requestWarnings(ctx, req), out.Warnings...)
	// The batch is started and paid for: it is recorded whatever the caller does meanwhile.
	rctx := context.WithoutCancel(ctx)
	if _, err := s.tasks.Track(rctx, principal(ctx), key, out, enrichmentInEffect(req.GetEnrichmentTypes())); err != nil {
		return nil, s.notRecorded(rctx, key, reqKey, freq.LinkedInURLs, out, err)
	}
	return out, nil
}

// notRecorded answers a start that Fiber accepted and the engine could not record (cause
// matches tasks.ErrNotRecorded or tasks.ErrIDConflict): it keeps a record for the operator, as
// for an ambiguous start, logs it at error level, and returns the error that tells the caller
// what was started.
func (s *Service) notRecorded(ctx context.Context, key, reqKey string, urls []string, out *cdv1.StartBatchResponse, cause error) error {
	kind := storage.AmbiguousNotRecorded
	if errors.Is(cause, tasks.ErrIDConflict) {
		kind = storage.AmbiguousIDConflict
	}
	raw, _ := proto.Marshal(out) // a message that was just built always encodes
	a := s.reconcileRecord(ctx, key, reqKey, urls, cause)
	a.Kind, a.TaskID, a.Response = kind, out.GetOutput().GetTaskId(), raw
	err := s.reconcile.RecordAmbiguousStart(ctx, a)
	s.log.ErrorContext(ctx, "RECONCILE: fiber started a task that could not be recorded",
		"record_id", a.ID, "kind", string(kind), "task_id", a.TaskID, "principal", a.Owner, "key_id", a.KeyID,
		"request_key", reqKey, "people", len(urls), "err", cause, "record_err", err)
	snr := &apierr.StartNotRecordedError{Response: out, Err: cause}
	if err == nil {
		snr.RecordID = a.ID
	}
	return snr
}

// recordAmbiguousStart keeps the record of a start that Fiber may have acted on without a
// usable answer, so that an operator can reconcile it (cmd/reconcile lists the records), and
// logs it at error level. It never fails the call: the caller hears of the unknown outcome
// either way.
func (s *Service) recordAmbiguousStart(ctx context.Context, key, reqKey string, urls []string, cause error) {
	a := s.reconcileRecord(ctx, key, reqKey, urls, cause)
	a.Kind = storage.AmbiguousOutcomeUnknown
	err := s.reconcile.RecordAmbiguousStart(context.WithoutCancel(ctx), a)
	s.log.ErrorContext(ctx, "RECONCILE: a fiber start may have taken effect without a usable answer",
		"record_id", a.ID, "principal", a.Owner, "key_id", a.KeyID, "request_key", reqKey, "people", len(urls),
		"err", cause, "record_err", err)
}

// reconcileRecord is the operator's record of a start of urls with key that failed with cause.
func (s *Service) reconcileRecord(ctx context.Context, key, reqKey string, urls []string, cause error) storage.AmbiguousStart {
	a := storage.AmbiguousStart{
		ID:         "amb-" + uuid.NewString(),
		Time:       time.Now(),
		Owner:      principal(ctx),
		KeyID:      fiber.KeyID(key),
		RequestKey: reqKey,
		URLs:       urls,
		Error:      cause.Error(), // fiber and store errors never hold the key
	}
	if s.secrets != nil {
		a.Error = s.secrets.Redact(a.Error) // nor a request-supplied one
	}
	return a
}

// enrichmentInEffect applies Fiber's defaults (true) to unset enrichment types.
func enrichmentInEffect(et *cdv1.EnrichmentTypes) storage.Enrichment {
	if et == nil {
		et = &cdv1.EnrichmentTypes{}
	}
	or := func(p *bool) bool { return p == nil || *p }
	return storage.Enrichment{
		WorkEmails:     or(et.GetWorkEmails),
		PersonalEmails: or(et.GetPersonalEmails),
		PhoneNumbers:   or(et.GetPhoneNumbers),
	}
}
