// Package auth authenticates fibergate's callers by bearer token and names the principal each
// request acts for.
//
// Tokens are never stored: the tokens file maps a principal name to the SHA-256 of its token.
// A presented token is hashed and compared with every entry in constant time, so neither the
// comparison nor the number of entries tried reveals anything about the stored hashes.
// Tokens should be long random strings (e.g. `openssl rand -hex 32`); being high-entropy, they
// need no slow password hash.
package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fibergate/fibergate/internal/apierr"
)

// Tokens is an immutable set of principals and their token hashes; safe for concurrent use.
type Tokens struct {
	entries []entry
}

type entry struct {
	principal string
	hash      [sha256.Size]byte
}

// HashToken returns the line's hash form of a token: "sha256:" and 64 hex digits.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(h[:])
}

// LoadTokens reads a tokens file.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	return ParseTokens(f)
}

// ParseTokens reads the tokens file format: one "PRINCIPAL sha256:HEX" per line; blank lines
// and lines starting with # are ignored. Principal names are 1–64 characters of letters,
// digits and "._-"; each appears once.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("tokens file line %d: want \"PRINCIPAL sha256:HEX\"", n)
		}
		name, hashed := fields[0], fields[1]
		if !validPrincipal(name) {
			return nil, fmt.Errorf("tokens file line %d: bad principal name", n)
		}
		if seen[name] {
			return nil, fmt.Errorf("tokens file line %d: principal %s listed twice", n, name)
		}
		hexPart, ok := strings.CutPrefix(hashed, "sha256:")
		raw, err := hex.DecodeString(hexPart)
		if !ok || err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("tokens file line %d: the hash must be sha256: and 64 hex digits (see HashToken)", n)
		}
		e := entry{principal: name}
		copy(e.hash[:], raw)
		t.entries = append(t.entries, e)
		seen[name] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	if len(t.entries) == 0 {
		return nil, errors.New("tokens file lists no principal")
	}
	return t, nil
}

// Len is the number of principals.
func (t *Tokens) Len() int { return len(t.entries) }

// Principal returns the principal whose token this is, or apierr.ErrUnauthenticated. Every entry is
// compared, in constant time.
func (t *Tokens) Principal(token string) (string, error) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(h[:], t.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 || token == "" {
		return "", apierr.ErrUnauthenticated
	}
	return t.entries[found].principal, nil
}

func validPrincipal(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated principal.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// PrincipalFrom returns the principal ctx acts for, and false when the request was not
// authenticated (auth is off).
func PrincipalFrom(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(principalKey{}).(string)
	return p, ok
}
