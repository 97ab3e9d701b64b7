package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/redact"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

// Starter starts Fiber batches. *fiber.Client implements it.
type Starter interface {
	Start(ctx context.Context, apiKey string, req fiber.StartRequest) (*fiber.StartResponse, error)
}

// ReconcileStore keeps the records of starts an operator must reconcile with Fiber's own
// records (cmd/reconcile lists them). RecordAmbiguousStart stores a durably, every field as
// given, so that the record outlives the process; it reports a taken a.ID with
// storage.ErrExists (the service makes ids that never repeat). It must be safe for
// concurrent use.
type ReconcileStore interface {
	RecordAmbiguousStart(ctx context.Context, a storage.AmbiguousStart) error
}

// StoreHealth tells whether the store can be reached. *health.Monitor implements it.
type StoreHealth interface {
	// Up reports whether the store is up, and returns a channel closed when that changes.
	Up() (up bool, changed <-chan struct{})
	// Failed is told that a store call failed with err. It returns err, wrapped with
	// health.ErrStoreUnavailable if the store is found down.
	Failed(ctx context.Context, err error) error
}

// Config holds what the service needs.
type Config struct {
	// Fiber starts batches upstream. Required.
	Fiber Starter
	// Tasks follows started tasks and serves the task RPCs. Required.
	Tasks *tasks.Engine
	// Requests keeps the idempotency records of StartBatch. Required.
	Requests RequestStore
	// Reconcile keeps the records of starts an operator must reconcile. Required.
	Reconcile ReconcileStore
	// Health tells whether the store can be reached: while it cannot, StartBatch sends
	// nothing to Fiber and answers health.ErrStoreUnavailable, as it does when claiming its
	// request id fails then. Nil means the store is taken to be always up.
	Health StoreHealth
	// IdempotencyTTL is how long a request_id is remembered; zero means 24h.
	IdempotencyTTL time.Duration
	// Replica names this process among the replicas sharing Requests: the owner of the
	// idempotent starts it sends. Replicas must have distinct names. Empty means a random one.
	Replica string
	// PurgeTurns, if not nil, is shared by every replica on Requests: the purge of expired
	// request ids then runs on one of them per period. Nil means Run purges every period.
	PurgeTurns PurgeTurns
	// LeaseTTL is how long a replica sending an idempotent start is taken for alive after its
	// last renewal (it renews every third of it): a duplicate of a start whose replica died
	// gets the unknown outcome this long after the death at most. Zero means
	// DefaultLeaseTTL.
	LeaseTTL time.Duration
	// AllowRequestAPIKey lets requests bring their own Fiber key (api_key). Off, such
	// requests are refused with PERMISSION_DENIED.
	AllowRequestAPIKey bool
	// MaxWatchStreams caps the open WatchTask streams of one principal; zero means 100.
	MaxWatchStreams int
	// Secrets, if not nil, learns request-supplied Fiber keys so the log redactor masks them.
	Secrets *redact.Secrets
	// DefaultAPIKey is the server's own Fiber key, used when a request carries none. Empty
	// means requests must bring their own. Never logged.
	DefaultAPIKey string
	// Logger receives operational events. Nil means slog.Default().
	Logger *slog.Logger
}

// Service implements cdv1.ContactDetailsServiceServer. It is safe for concurrent use.
type Service struct {
	cdv1.UnimplementedContactDetailsServiceServer

	fiber         Starter
	tasks         *tasks.Engine
	reconcile     ReconcileStore
	health        StoreHealth // nil: always up
	idem          *idempotency
	defaultAPIKey string
	allowReqKey   bool
	streams       *streamQuota
	secrets       *redact.Secrets
	purges        PurgeTurns // nil: no other replica purges
	log           *slog.Logger
}

var _ cdv1.ContactDetailsServiceServer = (*Service)(nil)

// New returns a Service.
func New(cfg Config) *Service {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		fiber: cfg.Fiber, tasks: cfg.Tasks, reconcile: cfg.Reconcile, health: cfg.Health, defaultAPIKey: cfg.DefaultAPIKey, allowReqKey: cfg.AllowRequestAPIKey, log: log,
		idem:    newIdempotency(cfg.Requests, cfg.IdempotencyTTL, cfg.Health, cfg.Replica, cfg.LeaseTTL, log),
		purges:  cfg.PurgeTurns,
		streams: newStreamQuota(cfg.MaxWatchStreams),
		secrets: cfg.Secrets,
	}
}

// Run deletes expired idempotency records at once and then every hour, until ctx ends; then
// it returns nil. With Config.PurgeTurns, it does so only when its replica takes the turn.
// Call it once, beside the task engine's Run. The handlers work without it; the records
// would only pile up.
func (s *Service) Run(ctx context.Context) error {
	tick := time.NewTicker(requestPurgeInterval)
	defer tick.Stop()
	for {
		if s.takePurgeTurn(ctx) {
			s.idem.purge(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// storeUp returns health.ErrStoreUnavailable while the store is known to be down.
func (s *Service) storeUp() error {
	if s.health == nil {
		return nil
	}
	if up, _ := s.health.Up(); !up {
		return fmt.Errorf("start: %w", health.ErrStoreUnavailable)
	}
	return nil
}

// apiKey picks the Fiber key for a start: the request's own, else the server's.
func (s *Service) apiKey(requestKey string) (string, error) {
	if requestKey != "" {
		return s.requestKey(requestKey)
	}
	if s.defaultAPIKey != "" {
		return s.defaultAPIKey, nil
	}
	return "", apierr.ErrNoAPIKey
}

// requestKey vets a request-supplied Fiber key ("" passes through).
func (s *Service) requestKey(k string) (string, error) {
	if k == "" {
		return "", nil
	}
	if s.secrets != nil {
		s.secrets.Add(k) // even a refused key is a secret
	}
	if !s.allowReqKey {
		return "", apierr.ErrRequestKeyRefused
	}
	return k, nil
}
