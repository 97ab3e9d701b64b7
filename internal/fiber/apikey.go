package fiber

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// The API key travels only in request bodies. Everything else sees KeyID, and every string that
// Fiber or the transport hands back passes through redact or sanitize before it is kept.

// KeyID returns a short identifier of an API key for logs, metrics and rate-limiter keys: the
// first 12 hex digits (48 bits) of the key's SHA-256. It is stable across processes and
// versions, and reveals nothing usable about the key; use it wherever a key must be told
// apart, and the key itself only in request bodies.
func KeyID(apiKey string) string {
	sum := sha256.Sum256([]byte(apiKey))
	return hex.EncodeToString(sum[:6])
}

// redact replaces every occurrence of apiKey in s with "[REDACTED]".
func redact(s, apiKey string) string {
	if apiKey == "" || !strings.Contains(s, apiKey) {
		return s
	}
	return strings.ReplaceAll(s, apiKey, "[REDACTED]")
}

// sanitize returns err, or when its text contains apiKey, an error with the same text redacted
// (the chain is dropped, as it would carry the key).
func sanitize(err error, apiKey string) error {
	if err == nil || apiKey == "" || !strings.Contains(err.Error(), apiKey) {
		return err
	}
	return errors.New(redact(err.Error(), apiKey))
}
