package fiber

import (
	"net/http"
	"time"
)

// Option configures a Client in New. Options are applied in order, so of two that set the same
// thing the last wins; a nil Option is ignored.
type Option func(*options)

// options is what New assembles from the Options before building the Client.
type options struct {
	httpClient *http.Client
	timeout    time.Duration
	userAgent  string
}

// WithHTTPClient makes the Client send through hc instead of a client with its own transport;
// nil keeps the default. hc is copied, not modified, and the copy never follows redirects.
//
// hc's transport must report net/http/httptrace events, as http.Transport and the
// golang.org/x/net/http2 transport do: they are how a failed call is told apart as
// KindUnavailable (surely not sent) or KindOutcomeUnknown (maybe sent). A transport that
// reports none makes every transport failure KindOutcomeUnknown, because nothing proves that
// the request was not sent.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithTimeout bounds each HTTP attempt, from sending the request to reading the whole response
// body, by d (DefaultTimeout when not given). It is applied through the attempt's context, on
// top of the caller's context; zero means no per-attempt bound, and a negative d makes New fail.
// An attempt that runs out of time fails with an *Error whose Err is ErrAttemptTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithUserAgent sets the User-Agent header of every request; "" keeps DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(o *options) {
		if ua != "" {
			o.userAgent = ua
		}
	}
}
