package service

import (
	"context"
	"log/slog"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/tasks"
)

// Starter starts Fiber batches. *fiber.Client implements it.
type Starter interface {
	Start(ctx context.Context, apiKey string, req fiber.StartRequest) (*fiber.StartResponse, error)
}

// Config holds what the service needs.
type Config struct {
	// Fiber starts batches upstream. Required.
	Fiber Starter
	// Tasks follows started tasks and serves the task RPCs. Required.
	Tasks *tasks.Engine
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
	defaultAPIKey string
	log           *slog.Logger
}

var _ cdv1.ContactDetailsServiceServer = (*Service)(nil)

// New returns a Service.
func New(cfg Config) *Service {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{fiber: cfg.Fiber, tasks: cfg.Tasks, defaultAPIKey: cfg.DefaultAPIKey, log: log}
}

// apiKey picks the Fiber key for a call: the request's own, else the server's.
func (s *Service) apiKey(requestKey string) (string, error) {
	if requestKey != "" {
		return requestKey, nil
	}
	if s.defaultAPIKey != "" {
		return s.defaultAPIKey, nil
	}
	return "", ErrNoAPIKey
}
