package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/fibergate/fibergate/internal/redact"
)

func TestHandlerMasksSecretsEverywhere(t *testing.T) {
	const server, request = "sk-live-server-0123456789", "sk-live-request-9876543210"
	secrets := redact.NewSecrets(server)
	secrets.Add(request)
	secrets.Add("short") // too short to be a secret: ignored
	var buf bytes.Buffer
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, nil), secrets))

	log = log.With("key", server)
	log.Info("calling with "+request,
		"err", fmt.Errorf("upstream said: bad key %s", server),
		slog.Group("req", "api_key", request, "n", 3),
		"any", struct{ K string }{request},
		"word", "short",
	)
	log.WithGroup("g").Warn("x", "err", errors.New(request))
	out := buf.String()
	if strings.Contains(out, server) || strings.Contains(out, request) {
		t.Fatalf("a secret reached the log:\n%s", out)
	}
	for _, want := range []string{redact.Mask, `"n":3`, `"word":"short"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestSecretsAreBoundedButPinsStay(t *testing.T) {
	s := redact.NewSecrets("pinned-secret-value")
	for i := range 3000 {
		s.Add(fmt.Sprintf("request-secret-%06d", i))
	}
	if got := s.Redact("pinned-secret-value request-secret-002999"); strings.Contains(got, "secret") {
		t.Errorf("Redact = %q", got)
	}
}

// TestBearerCredentialsAreMaskedByForm: callers' tokens are known only by hash, so any
// "Bearer <credential>" is masked, whatever its case or surroundings; the word alone, or with
// a short word after it, is not.
func TestBearerCredentialsAreMaskedByForm(t *testing.T) {
	secrets := redact.NewSecrets()
	for _, tt := range []struct{ in, want string }{
		{"authorization: Bearer tok_abc.DEF-123", "authorization: Bearer [REDACTED]"},
		{`{"authorization":"bearer tok_abcdef"}`, `{"authorization":"Bearer [REDACTED]"}`},
		{"BEARER  token-one, then Bearer token-two;", "Bearer [REDACTED], then Bearer [REDACTED];"},
		{"bEaReR token-three", "Bearer [REDACTED]"},
		{"missing or invalid bearer token", "missing or invalid bearer token"}, // too short for a credential
		{"the bearer of bad news", "the bearer of bad news"},
		{"no credential here", "no credential here"},
		{"a bearer", "a bearer"},
	} {
		if got := secrets.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var buf bytes.Buffer
	slog.New(redact.NewHandler(slog.NewTextHandler(&buf, nil), secrets)).Info("auth failed", "header", "Bearer s3cr3t-token")
	if strings.Contains(buf.String(), "s3cr3t-token") {
		t.Errorf("a bearer token reached the log: %s", buf.String())
	}
}
