package fiber

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrorKind classifies a failed call by what the caller can do about it.
type ErrorKind int

// The kinds of *Error. The zero ErrorKind is not a kind; KindOf returns it for errors that are
// not an *Error.
const (
	// KindBadRequest: Fiber rejected the request as invalid (400, 422). Do not retry as is.
	KindBadRequest ErrorKind = iota + 1
	// KindUnauthenticated: the API key is missing or wrong (401).
	KindUnauthenticated
	// KindOutOfCredits: the account lacks credits (402); Error.OutOfCredits may say more.
	KindOutOfCredits
	// KindForbidden: the key may not do this (403).
	KindForbidden
	// KindNotFound: no such task (404).
	KindNotFound
	// KindRateLimited: too many requests (429); Error.RetryAfter may say when to come back.
	KindRateLimited
	// KindUnavailable: Fiber failed (5xx to a poll or cancel), or the request surely never
	// reached it (DNS, dial, TLS handshake, connection lost before the request was written).
	// Safe to retry.
	KindUnavailable
	// KindOutcomeUnknown: the request was or may have been sent, but no answer tells what
	// happened (timeout, reset or EOF after sending, a cut-off body, an undecodable 2xx to a
	// start, a 5xx to a start: Fiber may have failed after creating the task). A start that
	// fails this way may have created and charged a task.
	KindOutcomeUnknown
	// KindProtocol: an answer that is known not to be a success but fits no other kind (a 3xx,
	// an unexpected 4xx such as 418), or a malformed 2xx to a poll or cancel.
	KindProtocol
)

// String returns a short lowercase name of the kind, as used in Error.Error.
func (k ErrorKind) String() string {
	switch k {
	case KindBadRequest:
		return "bad request"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindOutOfCredits:
		return "out of credits"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindRateLimited:
		return "rate limited"
	case KindUnavailable:
		return "unavailable"
	case KindOutcomeUnknown:
		return "outcome unknown"
	case KindProtocol:
		return "protocol error"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// Error is the failure of a call to Fiber. No field ever holds the API key: Fiber's messages
// and underlying causes are redacted before they are stored.
type Error struct {
	// Kind classifies the failure.
	Kind ErrorKind
	// Endpoint is the operation that failed.
	Endpoint Endpoint
	// StatusCode is the HTTP status of Fiber's answer, or 0 when there was none.
	StatusCode int
	// Message is Fiber's "message" when it sent one (truncated to 1 KiB), else a short
	// description of what went wrong.
	Message string
	// OutOfCredits is the outOfCreditsAlert of a 402 answer, or nil.
	OutOfCredits *CreditAlert
	// RetryAfter is the delay of a Retry-After header (seconds or HTTP-date, at most 24h), or 0.
	RetryAfter time.Duration
	// Err is the underlying cause, or nil: the caller's context error, ErrAttemptTimeout, a
	// transport or decoding error.
	Err error
}

// Error returns "fiber <endpoint>: <kind> (HTTP <status>): <message>: <cause>", leaving out
// the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("fiber ")
	b.WriteString(string(e.Endpoint))
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	if e.StatusCode != 0 {
		b.WriteString(" (HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteByte(')')
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause, so errors.Is(err, context.Canceled) and the like work.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or 0 when there is none (nil, a
// context error, or a Retrier's Limiter refusing the first attempt).
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// statusKind maps a non-2xx HTTP status to a kind.
func statusKind(status int) ErrorKind {
	switch {
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity:
		return KindBadRequest
	case status == http.StatusUnauthorized:
		return KindUnauthenticated
	case status == http.StatusPaymentRequired:
		return KindOutOfCredits
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status >= 500 && status <= 599:
		return KindUnavailable
	}
	return KindProtocol
}

// errorBody is the part of Fiber's error body the client uses; message is raw because Fiber
// does not promise it is a string.
type errorBody struct {
	Message           json.RawMessage  `json:"message"`
	OutOfCreditsAlert *creditAlertWire `json:"outOfCreditsAlert"`
}

// statusError builds the *Error for a non-2xx answer. body may be nil or anything.
func statusError(ep Endpoint, apiKey string, status int, h http.Header, body []byte) *Error {
	e := &Error{
		Kind:       statusKind(status),
		Endpoint:   ep,
		StatusCode: status,
		RetryAfter: parseRetryAfter(h.Get("Retry-After"), time.Now()),
	}
	if e.Kind == KindUnavailable && ep == EndpointStart {
		// A server error says nothing about how far the start got: it may have created (and
		// charged) the task before failing.
		e.Kind = KindOutcomeUnknown
	}
	var eb errorBody
	if len(body) > 0 && json.Unmarshal(body, &eb) == nil {
		var msg string
		if json.Unmarshal(eb.Message, &msg) == nil {
			e.Message = cleanMessage(msg, apiKey)
		}
		if eb.OutOfCreditsAlert != nil && e.Kind == KindOutOfCredits {
			a := eb.OutOfCreditsAlert.toAlert()
			a.Message = cleanMessage(a.Message, apiKey)
			a.GetMoreCreditsURL = redact(a.GetMoreCreditsURL, apiKey)
			e.OutOfCredits = &a
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
		if e.Message == "" {
			e.Message = "unexpected status"
		}
	}
	return e
}

// maxMessageBytes caps the length of a message kept from Fiber.
const maxMessageBytes = 1 << 10

// cleanMessage redacts apiKey from msg, makes it valid UTF-8 and cuts it to maxMessageBytes.
func cleanMessage(msg, apiKey string) string {
	msg = strings.ToValidUTF8(redact(msg, apiKey), "\uFFFD")
	if len(msg) <= maxMessageBytes {
		return msg
	}
	cut := maxMessageBytes - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// maxRetryAfter caps a Retry-After delay, so that a bogus header cannot park a caller.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value, delay-seconds or HTTP-date, relative to now. It
// returns 0 for an empty, malformed or past value and caps the result at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	secs, err := strconv.ParseUint(v, 10, 64)
	if err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || secs >= uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), maxRetryAfter)
}
