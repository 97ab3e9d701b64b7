// Package redact keeps secrets (Fiber API keys, caller tokens) out of logs: a slog.Handler
// that replaces every known secret in a record's message and attributes with [REDACTED].
//
// It is a last line of defence. The code already avoids logging secrets (it logs key ids, and
// errors from the upstream client are redacted at the source); the handler catches what a
// future change might let slip.
package redact

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

// Mask replaces a secret.
const Mask = "[REDACTED]"

// minSecretLen: shorter strings are not treated as secrets (they would mask ordinary words).
const minSecretLen = 8

// maxSecrets bounds the set; the oldest request-supplied secrets are dropped first.
const maxSecrets = 1024

// Secrets is a set of strings to mask. Safe for concurrent use.
type Secrets struct {
	mu    sync.RWMutex // guards list and index
	list  []string     // in insertion order, pinned first
	index map[string]bool
	pins  int // the first pins entries are never dropped
}

// NewSecrets returns a set holding pinned, which are never dropped (the server's own keys).
func NewSecrets(pinned ...string) *Secrets {
	s := &Secrets{index: map[string]bool{}}
	for _, p := range pinned {
		if s.add(p) {
			s.pins++
		}
	}
	return s
}

// Add remembers a secret seen at run time, such as a request's api_key.
func (s *Secrets) Add(secret string) { s.add(secret) }

func (s *Secrets) add(secret string) bool {
	if len(secret) < minSecretLen {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index[secret] {
		return false
	}
	if len(s.list) >= maxSecrets && len(s.list) > s.pins {
		old := s.list[s.pins]
		delete(s.index, old)
		s.list = append(s.list[:s.pins], s.list[s.pins+1:]...)
	}
	s.list = append(s.list, secret)
	s.index[secret] = true
	return true
}

// bearer matches a bearer credential, as in an authorization header: like secrets, a
// credential shorter than minSecretLen is not taken for one ("bearer token" stays).
var bearer = regexp.MustCompile(`(?i)\bbearer\s+[^\s"',;]{8,}`)

// Redact returns text with every secret masked, and every bearer credential ("Bearer xyz"):
// callers' tokens are known only by their hashes, so they are masked by their form.
func (s *Secrets) Redact(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sec := range s.list {
		if strings.Contains(text, sec) {
			text = strings.ReplaceAll(text, sec, Mask)
		}
	}
	if containsFold(text, "bearer") { // spares most strings the regexp
		text = bearer.ReplaceAllString(text, "Bearer "+Mask)
	}
	return text
}

// containsFold reports whether s contains word, lower-case ASCII, in any case.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

// Handler is a slog.Handler that masks secrets before passing records on.
type Handler struct {
	next    slog.Handler
	secrets *Secrets
}

// NewHandler wraps next.
func NewHandler(next slog.Handler, secrets *Secrets) *Handler {
	return &Handler{next: next, secrets: secrets}
}

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle masks the record's message and attributes, then passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.secrets.Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs masks attrs and returns a handler that adds them.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(masked), secrets: h.secrets}
}

// WithGroup returns a handler that opens a group.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), secrets: h.secrets}
}

// attr masks one attribute, resolving values (errors, Stringers, LogValuers) to strings first
// so that their text is checked too.
func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		group := v.Group()
		masked := make([]any, len(group))
		for i, g := range group {
			masked[i] = h.attr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindString:
		return slog.String(a.Key, h.secrets.Redact(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.secrets.Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.secrets.Redact(x.String()))
		default:
			return slog.String(a.Key, h.secrets.Redact(slog.AnyValue(x).String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
