package gateway

import (
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/apierr"
)

// realm names fibergate in the challenge of a 401 answer.
const realm = "fibergate"

// withChallenge returns w, made to answer st with an RFC 6750 challenge when st is
// UNAUTHENTICATED (HTTP 401): `Bearer realm="fibergate"`, plus `error="invalid_token"` when
// the caller's bearer token was refused. A request without a bearer token (none, or another
// scheme) gets the challenge alone, as RFC 6750 §3 asks, and so does a 401 about Fiber's key
// (UPSTREAM_UNAUTHENTICATED), for which the caller's own token was accepted. It replaces the
// header grpc-gateway sets, which holds the status message.
func withChallenge(w http.ResponseWriter, r *http.Request, st *status.Status) http.ResponseWriter {
	if st.Code() != codes.Unauthenticated {
		return w
	}
	challenge := `Bearer realm="` + realm + `"`
	if callerAuthFailed(st) && hasBearerToken(r) {
		challenge += `, error="invalid_token"`
	}
	return &challengeWriter{ResponseWriter: w, challenge: challenge}
}

// callerAuthFailed reports whether st refuses the caller's own credentials.
func callerAuthFailed(st *status.Status) bool {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason() == apierr.ReasonUnauthenticated
		}
	}
	return false
}

// hasBearerToken reports whether r carries "Authorization: Bearer TOKEN" with a token.
func hasBearerToken(r *http.Request) bool {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "bearer") && strings.TrimSpace(token) != ""
}

// challengeWriter sets WWW-Authenticate as the status is written.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
